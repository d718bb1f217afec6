// Out-of-line part of error.hpp: formatting of internal-invariant failures.
#include "common/error.hpp"

namespace hpa::detail {

void throw_internal(const char* file, int line, const char* condition, const std::string& message) {
  std::ostringstream out;
  out << "internal error at " << file << ":" << line << ": (" << condition << ") " << message;
  throw Error(out.str());
}

}  // namespace hpa::detail
