// Turning uint8 images into float batches: the epoch's sample order, each rank's share of a global
// batch, normalization and the shift+flip augmentation (keyed by seed, epoch and sample index),
// and a one-batch-ahead prefetcher. No model or MPI code here.
#pragma once

#include "data/dataset.hpp"

#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace hpa::data {

enum class NormalizationKind { dataset, unit, symmetric };  // mean/std of the train split, [0,1], [-1,1]

NormalizationKind parse_normalization(const std::string& name);
std::string normalization_name(NormalizationKind kind);

struct Normalization {
  std::vector<float> mean;  // per channel, applied to pixels scaled to [0, 1]
  std::vector<float> std;
  static Normalization make(NormalizationKind kind, const ImageSet& train);
};

struct Augmentation {
  bool enabled = false;
  int64_t max_shift = 4;  // pixels, each direction (pad with zeros, then crop)
  bool horizontal_flip = true;
};

struct Batch {
  at::Tensor images;        // float [B, C, H, W]
  at::Tensor labels;        // int64 [B]
  int64_t global_size = 0;  // samples in the whole global batch, across ranks
};

// The first index and count of `group_rank`'s contiguous share of `global_count` samples; the first
// global_count % group_size ranks take one more.
std::pair<int64_t, int64_t> rank_share(int64_t global_count, int group_rank, int group_size);

class BatchAssembler {
 public:
  BatchAssembler(const ImageSet& set, Normalization normalization, Augmentation augmentation, uint64_t seed);
  // Float batch of `indices` (into the set); augmented when enabled, keyed by (seed, epoch, index).
  Batch assemble(const std::vector<int64_t>& indices, uint64_t epoch) const;
  const ImageSet& set() const { return set_; }

 private:
  const ImageSet& set_;
  Normalization normalization_;
  Augmentation augmentation_;
  uint64_t seed_;
};

// Runs `make(i)` for i = 0..count-1 on a background thread, one ahead of the consumer.
class Prefetcher {
 public:
  Prefetcher(std::function<Batch(int64_t)> make, int64_t count);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;
  // The next batch in order; rethrows an exception of the producer. False when all are consumed.
  bool next(Batch& batch);

 private:
  void produce();
  std::function<Batch(int64_t)> make_;
  int64_t count_;
  int64_t produced_ = 0, consumed_ = 0;
  bool has_ready_ = false, stop_ = false;
  Batch ready_;
  std::exception_ptr error_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread worker_;
};

}  // namespace hpa::data
