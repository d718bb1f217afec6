// Data-parallel gradient averaging for one seed group, built because LibTorch has no
// DistributedDataParallel: parameters are packed into buckets in reverse order (the order backward
// produces gradients), the first bucket small so communication starts early. Every .grad is a view
// into its bucket; a post-hook on each parameter's gradient accumulator marks it ready, and a full
// bucket's non-blocking allreduce is launched at once, overlapping the rest of backward.
// finish_step() waits; the sums are then already in .grad. With overlap off, one allreduce of
// everything runs after backward (the baseline). Callers must zero .grad in place, never replace it.
#pragma once

#include "comm/communicator.hpp"

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

namespace hpa::comm {

struct ReducerOptions {
  int64_t bucket_bytes = 25 << 20;
  int64_t first_bucket_bytes = 1 << 20;
  bool overlap = true;
  // Run the collectives even in a group of one rank (a sum over one rank changes nothing): how the
  // NCCL path is exercised on a machine with a single GPU (hpa-device-check).
  bool reduce_single_rank = false;
};

class GradientReducer {
 public:
  // Every rank of `group`, with the same parameters in the same order.
  // Every rank of `group`, with the same parameters in the same order. Sets each .grad to a view
  // into its bucket when the group has more than one rank.
  GradientReducer(const Group& group, std::vector<at::Tensor> params, ReducerOptions options);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Before each backward pass.
  void begin_step();
  // After backward (all ranks of the group): launches what is left, waits, leaves every
  // parameter's .grad holding the group sum. `extras` (e.g. loss and correct counts) are summed too.
  void finish_step(std::vector<double>& extras);

  int64_t num_buckets() const;
  // The buckets themselves (where the gradients live when the group reduces).
  std::vector<at::Tensor> bucket_buffers() const;
  // Buckets launched so far (MPI or NCCL collectives): the reduction really ran.
  int64_t launches() const;
  // Seconds spent inside finish_step since construction: communication backward did not hide.
  double exposed_seconds() const { return exposed_s_; }

 public:
  struct Impl;  // public to the hook class in the .cpp
 private:
  std::unique_ptr<Impl> impl_;
  double exposed_s_ = 0;
};

}  // namespace hpa::comm
