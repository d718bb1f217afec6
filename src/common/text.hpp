// Small string helpers C++17 lacks.
#pragma once

#include <string>

namespace hpa {

inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace hpa
