// Requests to stop and checkpoint, for every phase (training, the re-initialization grid):
// SIGUSR2 or SIGTERM (the handler only sets a flag), and a wall-clock interval. Each phase reads the
// flag at its own safe points and agrees on it across ranks (training sums it with a step's
// gradients; the grid's farm carries it in its messages), so every rank acts at the same point.
// (SIGUSR1 is left alone: some NCCL versions take it.)
#pragma once

#include <string>

namespace hpa {

// The exit status of a phase that checkpointed on request and wants to be started again (hpa-train
// with --resume, hpa-reinit-grid as it is); EX_TEMPFAIL of sysexits.h; no other exit uses it.
inline constexpr int kExitRequeue = 75;

// Installs the SIGUSR2 and SIGTERM handlers (once per process; later calls do nothing).
void install_stop_handlers();
// True once either signal arrived; the number of the first one (0 before).
bool stop_signal_received();
int stop_signal_number();
// "SIGUSR2", "SIGTERM" or "signal N".
std::string signal_name(int number);

// Due every `minutes` of wall time (never when minutes == 0), counted from construction or the
// last restart().
class CheckpointTimer {
 public:
  explicit CheckpointTimer(double minutes);
  bool due() const;
  void restart();

 private:
  double interval_s_, last_s_;
};

}  // namespace hpa
