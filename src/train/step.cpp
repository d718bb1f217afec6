// The training step; see step.hpp.
#include "train/step.hpp"

#include "common/error.hpp"
#include "train/evaluate.hpp"

#include <torch/nn/functional/loss.h>

namespace hpa::train {

void sgd_step(models::ConvNetImpl& model, Sgd& sgd, comm::GradientReducer* reducer, const at::Tensor& images,
              const at::Tensor& labels, int64_t global_size, double lr, std::vector<double>& sums,
              const StepHooks& hooks) {
  HPA_INTERNAL_CHECK(sums.size() >= kNumModelSums, "a step's sums hold loss, top-1 and top-5 first");
  sgd.zero_grad();
  if (reducer) reducer->begin_step();
  if (labels.numel() > 0) {
    const at::Tensor logits = model.forward(images);
    const at::Tensor summed = torch::nn::functional::cross_entropy(
        logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    (summed / static_cast<double>(global_size)).backward();
    const TopCounts counts = count_top_correct(logits, labels);
    sums[kLoss] = summed.item<double>();
    sums[kTop1] = counts.top1;
    sums[kTop5] = counts.top5;
  }
  if (hooks.before_reduce) hooks.before_reduce(sums);
  if (reducer) reducer->finish_step(sums);
  if (hooks.after_reduce) hooks.after_reduce(sums);
  sgd.step(lr);
}

}  // namespace hpa::train
