// HPA_TEST_FAULT, read once.
#include "common/fault.hpp"

#include "common/error.hpp"

#include <cstdlib>
#include <string>

namespace hpa {

void fault_point(const char* name, int rank) {
  static const std::string wanted = [] {
    const char* value = std::getenv("HPA_TEST_FAULT");
    return std::string(value ? value : "");
  }();
  if (wanted.empty() || wanted != std::string(name) + "@" + std::to_string(rank)) return;
  HPA_FAIL("fault injected at " << name << " on rank " << rank << " (HPA_TEST_FAULT)");
}

}  // namespace hpa
