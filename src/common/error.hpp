// The one exception type of hpa and the check macros that throw it. Library-specific checks
// (MPI, HDF5) live beside their wrappers and throw this type too; mains catch it and print one line.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace hpa {

// An error meant for the user: `what()` is one line that names the file, option or call at fault.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
[[noreturn]] void throw_internal(const char* file, int line, const char* condition,
                                 const std::string& message);
}  // namespace detail

}  // namespace hpa

// Streams its arguments into an hpa::Error: HPA_FAIL(path << ": truncated at byte " << offset).
#define HPA_FAIL(stream_expr)                   \
  do {                                          \
    std::ostringstream hpa_fail_stream_;        \
    hpa_fail_stream_ << stream_expr;            \
    throw ::hpa::Error(hpa_fail_stream_.str()); \
  } while (0)

// Input validation that stays on in release builds: HPA_REQUIRE(n > 0, "--epochs must be > 0").
#define HPA_REQUIRE(condition, stream_expr)  \
  do {                                       \
    if (!(condition)) HPA_FAIL(stream_expr); \
  } while (0)

// Internal invariant that should never fail whatever the input; reports file:line.
#define HPA_INTERNAL_CHECK(condition, stream_expr)                                            \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::ostringstream hpa_check_stream_;                                                   \
      hpa_check_stream_ << stream_expr;                                                       \
      ::hpa::detail::throw_internal(__FILE__, __LINE__, #condition, hpa_check_stream_.str()); \
    }                                                                                         \
  } while (0)
