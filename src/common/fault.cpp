// HPA_TEST_FAULT and HPA_TEST_PAUSE, each read once.
#include "common/fault.hpp"

#include "common/error.hpp"
#include "common/stop_request.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace hpa {
namespace {

const std::string& pause_dir() {
  static const std::string dir = [] {
    const char* value = std::getenv("HPA_TEST_PAUSE");
    return std::string(value ? value : "");
  }();
  return dir;
}

}  // namespace

void fault_point(const char* name, int rank) {
  static const std::string wanted = [] {
    const char* value = std::getenv("HPA_TEST_FAULT");
    return std::string(value ? value : "");
  }();
  if (wanted.empty() || wanted != std::string(name) + "@" + std::to_string(rank)) return;
  HPA_FAIL("fault injected at " << name << " on rank " << rank << " (HPA_TEST_FAULT)");
}

bool pause_points_enabled() { return !pause_dir().empty(); }

void pause_point(const std::string& name) {
  if (!pause_points_enabled()) return;
  const std::filesystem::path armed = std::filesystem::path(pause_dir()) / name;
  std::filesystem::path reached = armed;
  reached += ".reached";
  std::error_code error;
  if (!std::filesystem::exists(armed, error) || std::filesystem::exists(reached, error)) return;
  std::ofstream(reached) << "paused at " << name << "\n";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (!stop_signal_received() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace hpa
