// Exact evaluation: every sample of a set counted once, shared out over a seed group's ranks
// with no padding or duplicates, summed by allreduce.
#pragma once

#include "comm/communicator.hpp"
#include "data/batches.hpp"
#include "models/convnet.hpp"

namespace hpa::train {

struct EvalResult {
  double loss = 0;      // mean cross-entropy
  double accuracy = 0;  // top-1, in [0, 1]
  int64_t count = 0;
};

// Every rank of the group: evaluates `assembler`'s whole set.
EvalResult evaluate(models::ConvNetImpl& model, const data::BatchAssembler& assembler,
                    const comm::Group& group, int64_t batch_size);

}  // namespace hpa::train
