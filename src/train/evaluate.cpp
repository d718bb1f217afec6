// Exact distributed evaluation.
#include "train/evaluate.hpp"

#include <ATen/Functions.h>
#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <cmath>
#include <numeric>

namespace hpa::train {

TopCounts count_top_correct(const at::Tensor& logits, const at::Tensor& labels) {
  TopCounts counts;
  counts.top1 = logits.argmax(1).eq(labels).sum().item<double>();
  const int64_t k = std::min<int64_t>(5, logits.size(1));
  const at::Tensor top = std::get<1>(logits.topk(k, /*dim=*/1));
  counts.top5 = top.eq(labels.unsqueeze(1)).any(1).sum().item<double>();
  return counts;
}

EvalResult evaluate(models::ConvNetImpl& model, const data::SampleSet& samples, const comm::Group& group,
                    int64_t batch_size, const data::LoaderOptions& loader_options) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto [first, count] = data::rank_share(samples.size(), group.group_rank(), group.group_size());
  const c10::Device device = model.parameters().front().device();
  const int64_t num_batches = (count + batch_size - 1) / batch_size;
  data::BatchLoader loader(
      samples, num_batches,
      [&, first = first, count = count](int64_t b) {
        const int64_t start = first + b * batch_size, size = std::min(batch_size, first + count - start);
        data::BatchPlan plan;
        plan.positions.resize(static_cast<size_t>(size));
        std::iota(plan.positions.begin(), plan.positions.end(), start);
        plan.global_size = size;
        return plan;
      },
      /*epoch=*/0, loader_options);
  double loss_sum = 0, correct = 0, correct_top5 = 0;
  data::Batch batch;
  while (loader.next(batch)) {
    const at::Tensor labels = batch.labels.to(device);
    const at::Tensor logits = model.forward(batch.images.to(device));
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    const TopCounts counts = count_top_correct(logits, labels);
    correct += counts.top1;
    correct_top5 += counts.top5;
  }
  at::Tensor sums = at::tensor({loss_sum, correct, correct_top5, static_cast<double>(count)},
                               at::TensorOptions().dtype(at::kDouble));
  group.group_allreduce_sum(sums);  // all ranks of the group
  if (was_training) model.train();
  EvalResult result;
  result.count = static_cast<int64_t>(sums[3].item<double>());
  const double n = static_cast<double>(result.count);
  result.loss = result.count ? sums[0].item<double>() / n : std::nan("");
  result.accuracy = result.count ? sums[1].item<double>() / n : std::nan("");
  result.top5_accuracy = result.count ? sums[2].item<double>() / n : std::nan("");
  return result;
}

}  // namespace hpa::train
