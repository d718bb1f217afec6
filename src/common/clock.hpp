// Time as hpa's executables report it: a monotonic wall clock for durations and rates, durations
// as progress lines print them, and the UTC time stamps stored in files.
#pragma once

#include <string>

namespace hpa {

// Seconds on a monotonic clock (only differences mean anything).
double wall_seconds();

// "42s", "3m07s", "2h15m".
std::string format_duration(double seconds);

// The current UTC time as ISO 8601, e.g. "2026-11-28T05:40:00Z".
std::string utc_now_iso8601();

}  // namespace hpa
