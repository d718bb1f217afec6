// Clock and time formatting; see clock.hpp.
#include "common/clock.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <iomanip>
#include <sstream>

namespace hpa {

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string format_duration(double seconds) {
  std::ostringstream out;
  const int64_t total = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  if (total >= 3600)
    out << total / 3600 << "h" << std::setw(2) << std::setfill('0') << (total % 3600) / 60 << "m";
  else if (total >= 60)
    out << total / 60 << "m" << std::setw(2) << std::setfill('0') << total % 60 << "s";
  else
    out << total << "s";
  return out.str();
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

}  // namespace hpa
