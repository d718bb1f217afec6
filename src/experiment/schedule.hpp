// Learning-rate schedules of the paper (appendix A.1): step (x decay every N epochs), exponential
// (x 10^(-1/25) per epoch) and multiplicative (x 0.95 per epoch). Epochs are 1-based here: epoch 1
// trains with the base rate.
#pragma once

#include <string>

namespace hpa::experiment {

enum class ScheduleKind { step, exp, mult };

struct Schedule {
  ScheduleKind kind = ScheduleKind::step;
  double base_lr = 0.01;
  int step_epochs = 25;  // step: epochs between decays
  double decay = 0.0;    // 0: the schedule's default factor (0.1 step, 10^(-1/25) exp, 0.95 mult)

  double factor() const;
  double lr_at(int epoch) const;  // learning rate used while training epoch `epoch` (>= 1)
};

ScheduleKind parse_schedule(const std::string& name);
std::string schedule_name(ScheduleKind kind);

}  // namespace hpa::experiment
