// Exact evaluation: every sample of a set counted once, shared out over a seed group's ranks
// with no padding or duplicates, summed by allreduce; top-1 and top-5 accuracy.
#pragma once

#include "comm/communicator.hpp"
#include "data/batches.hpp"
#include "models/convnet.hpp"

namespace hpa::train {

struct EvalResult {
  double loss = 0;           // mean cross-entropy
  double accuracy = 0;       // top-1, in [0, 1]
  double top5_accuracy = 0;  // label among the 5 largest logits (all of them with fewer classes)
  int64_t count = 0;
};

struct TopCounts {
  double top1 = 0, top5 = 0;
};
// How many rows of `logits` have their label first (argmax) and among the five largest.
TopCounts count_top_correct(const at::Tensor& logits, const at::Tensor& labels);

// Every rank of the group: evaluates the whole of `samples`.
EvalResult evaluate(models::ConvNetImpl& model, const data::SampleSet& samples, const comm::Group& group,
                    int64_t batch_size, const data::LoaderOptions& loader);

}  // namespace hpa::train
