// Requests to checkpoint training in the middle of an epoch: SIGUSR2 or SIGTERM (the handler only
// sets a flag), and a wall-clock interval. The trainer reads them once per step and sums them over
// the seed group with the step's gradients, so every rank of a group acts on the same step.
// (SIGUSR1 is left alone: some NCCL versions take it.)
#pragma once

namespace hpa::train {

// The exit status of a run that checkpointed on request and wants to be started again with
// --resume (EX_TEMPFAIL of sysexits.h); no other exit of hpa-train uses it.
inline constexpr int kExitRequeue = 75;

// Installs the SIGUSR2 and SIGTERM handlers (once per process; later calls do nothing).
void install_stop_handlers();
// True once either signal arrived; the number of the first one (0 before).
bool stop_signal_received();
int stop_signal_number();

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

}  // namespace hpa::train
