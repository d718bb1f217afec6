// The SGD step of hpa-train, the one every caller runs (the trainer, hpa-device-check): forward and
// backward of this rank's share, the group sums of the gradients and of per-step numbers, the update.
#pragma once

#include "comm/gradient_reducer.hpp"
#include "models/convnet.hpp"
#include "train/sgd.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace hpa::train {

// The first three entries of a step's sums; callers append their own (e.g. stop requests).
enum StepSum : size_t { kLoss, kTop1, kTop5, kNumModelSums };

struct StepHooks {
  // After backward, before the group sums: fill the caller's entries of `sums`.
  std::function<void(std::vector<double>& sums)> before_reduce;
  // After the group sums, before the update (e.g. refuse a non-finite loss).
  std::function<void(const std::vector<double>& sums)> after_reduce;
};

// Every rank of the reducer's group. `sums` has at least kNumModelSums entries; this rank's summed
// cross-entropy and top-1/top-5 correct counts go into them (zero for an empty share), and the loss
// backpropagated is the sum over this share / `global_size`, so that the group's summed gradient
// is the gradient of the global batch mean whatever the split. `reducer` null: no group sums.
// The model's dropout keys are the caller's to set before.
void sgd_step(models::ConvNetImpl& model, Sgd& sgd, comm::GradientReducer* reducer, const at::Tensor& images,
              const at::Tensor& labels, int64_t global_size, double lr, std::vector<double>& sums,
              const StepHooks& hooks = {});

}  // namespace hpa::train
