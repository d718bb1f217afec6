// The few places where LibTorch 1.13 (Debian 12) and LibTorch 2.x (clusters, pip) differ in API.
// Everything else hpa uses is common to both; env/torch-compat.sh compiles every source file
// against newer LibTorch headers to keep it so.
#pragma once

// Option variants (e.g. Conv2dOptions::padding): c10::variant until 1.13, std::variant from 2.x,
// when c10/util/variant.h was removed.
#if __has_include(<c10/util/variant.h>)
#include <c10/util/variant.h>
namespace hpa::torch_compat {
using c10::get_if;
}  // namespace hpa::torch_compat
#else
#include <variant>
namespace hpa::torch_compat {
using std::get_if;
}  // namespace hpa::torch_compat
#endif
