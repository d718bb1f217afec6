// Batches from a SampleSet: each rank's share of a global batch, and a loader whose pool of
// threads fills a bounded number of batches ahead of the consumer. A sample's pixels depend only on
// (seed, epoch, sample), never on which thread or rank made it, so batches are identical for any
// thread count. No model or MPI code here.
#pragma once

#include "data/samples.hpp"

#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace hpa::data {

struct Batch {
  at::Tensor images;        // float [B, C, H, W]
  at::Tensor labels;        // int64 [B]
  int64_t global_size = 0;  // samples in the whole global batch, across ranks
};

// The first index and count of `group_rank`'s contiguous share of `global_count` samples; the first
// global_count % group_size ranks take one more.
std::pair<int64_t, int64_t> rank_share(int64_t global_count, int group_rank, int group_size);

struct BatchPlan {
  std::vector<int64_t> positions;  // into the SampleSet: this rank's samples of the batch, in order
  int64_t global_size = 0;
};

struct LoaderOptions {
  int threads = 1;          // worker threads filling batches
  int batches_ahead = 2;    // batches filled (or being filled) ahead of the consumer, at most
  bool pin_memory = false;  // page-locked batch memory for fast copies to a GPU (CUDA builds)
};

class BatchLoader {
 public:
  // Produces batches 0 .. num_batches-1 of `samples` for `epoch`, batch b holding plan(b).
  BatchLoader(const SampleSet& samples, int64_t num_batches, std::function<BatchPlan(int64_t)> plan,
              uint64_t epoch, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch in order; false when all are consumed. Rethrows a worker's exception.
  bool next(Batch& batch);
  // Seconds next() has spent waiting for batches that were not ready.
  double wait_seconds() const { return wait_seconds_; }

 private:
  struct Slot {
    int64_t batch = -1;
    Batch data;
    std::vector<int64_t> positions;
    int64_t claimed = 0, remaining = 0;
    int64_t writing = 0;  // chunks claimed and not yet written or failed
  };
  void open_batches();
  at::Tensor batch_images(const std::vector<int64_t>& shape);
  void work();
  Slot& slot(int64_t batch) {
    return slots_[static_cast<size_t>(batch % static_cast<int64_t>(slots_.size()))];
  }

  const SampleSet& samples_;
  const int64_t num_batches_;
  const std::function<BatchPlan(int64_t)> plan_;
  const uint64_t epoch_;
  const LoaderOptions options_;
  const int64_t sample_floats_;
  std::vector<Slot> slots_;
  int64_t opened_ = 0;                    // batches whose slot is set up
  int64_t filling_ = 0;                   // the oldest opened batch that still has unclaimed samples
  int64_t consumed_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  double wait_seconds_ = 0;
  std::mutex mutex_;
  std::condition_variable work_changed_, batch_done_;
  std::vector<std::thread> workers_;
};

}  // namespace hpa::data
