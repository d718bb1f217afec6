// Learning-rate schedules.
#include "experiment/schedule.hpp"

#include "common/error.hpp"

#include <cmath>

namespace hpa::experiment {

double Schedule::factor() const {
  if (decay > 0.0) return decay;
  switch (kind) {
    case ScheduleKind::step:
      return 0.1;
    case ScheduleKind::exp:
      return std::pow(10.0, -1.0 / 25.0);
    case ScheduleKind::mult:
      return 0.95;
  }
  return 1.0;
}

double Schedule::lr_at(int epoch) const {
  HPA_INTERNAL_CHECK(epoch >= 1, "learning rate of epoch " << epoch);
  const int decays = kind == ScheduleKind::step ? (epoch - 1) / step_epochs : epoch - 1;
  return base_lr * std::pow(factor(), decays);
}

ScheduleKind parse_schedule(const std::string& name) {
  if (name == "step") return ScheduleKind::step;
  if (name == "exp") return ScheduleKind::exp;
  if (name == "mult") return ScheduleKind::mult;
  HPA_FAIL("--lr-schedule " << name << ": unknown schedule (step, exp or mult)");
}

std::string schedule_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::step:
      return "step";
    case ScheduleKind::exp:
      return "exp";
    case ScheduleKind::mult:
      return "mult";
  }
  return "?";
}

}  // namespace hpa::experiment
