// Overflow-safe arithmetic for sizes, strides and offsets read from files: each returns false
// (and leaves *out unspecified) when the exact result does not fit the type.
#pragma once

#include <cstdint>

namespace hpa {

template <class T>
[[nodiscard]] bool checked_mul(T a, T b, T* out) {
  return !__builtin_mul_overflow(a, b, out);
}

template <class T>
[[nodiscard]] bool checked_add(T a, T b, T* out) {
  return !__builtin_add_overflow(a, b, out);
}

}  // namespace hpa
