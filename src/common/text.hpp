// Small string helpers C++17 lacks.
#pragma once

#include <string>

namespace hpa {

inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The first line of a (LibTorch) message that may span many: hpa's errors are one line.
inline std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace hpa
