// Exact distributed evaluation.
#include "train/evaluate.hpp"

#include <ATen/Functions.h>
#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <numeric>

namespace hpa::train {

EvalResult evaluate(models::ConvNetImpl& model, const data::BatchAssembler& assembler,
                    const comm::Group& group, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const int64_t total = assembler.set().size();
  const auto [first, count] = data::rank_share(total, group.group_rank(), group.group_size());
  double loss_sum = 0, correct = 0;
  const c10::Device device = model.parameters().front().device();
  for (int64_t start = first; start < first + count; start += batch_size) {
    const int64_t size = std::min(batch_size, first + count - start);
    std::vector<int64_t> indices(static_cast<size_t>(size));
    std::iota(indices.begin(), indices.end(), start);
    data::Batch batch = assembler.assemble(indices, /*epoch=*/0);
    batch.images = batch.images.to(device);
    batch.labels = batch.labels.to(device);
    const at::Tensor logits = model.forward(batch.images);
    loss_sum +=
        torch::nn::functional::cross_entropy(
            logits, batch.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
            .item<double>();
    correct += logits.argmax(1).eq(batch.labels).sum().item<double>();
  }
  at::Tensor sums =
      at::tensor({loss_sum, correct, static_cast<double>(count)}, at::TensorOptions().dtype(at::kDouble));
  group.group_allreduce_sum(sums);  // all ranks of the group
  if (was_training) model.train();
  EvalResult result;
  result.count = static_cast<int64_t>(sums[2].item<double>());
  result.loss = result.count ? sums[0].item<double>() / result.count : std::nan("");
  result.accuracy = result.count ? sums[1].item<double>() / result.count : std::nan("");
  return result;
}

}  // namespace hpa::train
