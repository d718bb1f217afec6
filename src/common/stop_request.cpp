// Signal flag and checkpoint timer; see stop_request.hpp.
#include "common/stop_request.hpp"

#include "common/clock.hpp"
#include "common/error.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace hpa {
namespace {

volatile std::sig_atomic_t g_signal = 0;
std::atomic<bool> g_installed{false};

extern "C" void on_stop_signal(int number) {
  if (g_signal == 0) g_signal = number;
}

}  // namespace

void install_stop_handlers() {
  if (g_installed.exchange(true)) return;
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking calls (MPI, file I/O) go on; the flag is read per step
  for (int number : {SIGUSR2, SIGTERM})
    if (sigaction(number, &action, nullptr) != 0)
      HPA_FAIL("cannot install the handler of signal " << number << ": " << std::strerror(errno));
}

bool stop_signal_received() { return g_signal != 0; }
int stop_signal_number() { return static_cast<int>(g_signal); }

std::string signal_name(int number) {
  switch (number) {
    case SIGUSR2:
      return "SIGUSR2";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal " + std::to_string(number);
  }
}

CheckpointTimer::CheckpointTimer(double minutes) : interval_s_(60.0 * minutes), last_s_(wall_seconds()) {}

bool CheckpointTimer::due() const { return interval_s_ > 0 && wall_seconds() - last_s_ >= interval_s_; }

void CheckpointTimer::restart() { last_s_ = wall_seconds(); }

}  // namespace hpa
