// The batch loader: workers claim a few samples of the oldest unfinished batch at a time, so one
// batch is finished by all threads together and the consumer waits for as little as possible.
#include "data/batches.hpp"

#include "common/error.hpp"

#include <ATen/Functions.h>

#include <algorithm>
#include <chrono>

namespace hpa::data {

std::pair<int64_t, int64_t> rank_share(int64_t global_count, int group_rank, int group_size) {
  const int64_t base = global_count / group_size, extra = global_count % group_size;
  const int64_t count = base + (group_rank < extra ? 1 : 0);
  const int64_t first = group_rank * base + std::min<int64_t>(group_rank, extra);
  return {first, count};
}

namespace {

int64_t product(const std::vector<int64_t>& sizes) {
  int64_t result = 1;
  for (int64_t size : sizes) result *= size;
  return result;
}

}  // namespace

BatchLoader::BatchLoader(const SampleSet& samples, int64_t num_batches,
                         std::function<BatchPlan(int64_t)> plan, uint64_t epoch, LoaderOptions options)
    : samples_(samples),
      num_batches_(num_batches),
      plan_(std::move(plan)),
      epoch_(epoch),
      options_(options),
      sample_floats_(product(samples.sample_shape())),
      slots_(static_cast<size_t>(std::max(1, options.batches_ahead))) {
  HPA_INTERNAL_CHECK(options.threads >= 1, "loader threads " << options.threads);
  open_batches();
  for (int t = 0; t < options.threads; ++t) workers_.emplace_back([this] { work(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_changed_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

namespace {

// Batch memory kept for reuse across loaders (a trainer makes one per epoch and per evaluation).
// Large blocks come from mmap and are faulted in page by page on every use: for 256 ImageNet crops
// (154 MB) that cost more than the decoding (measured 2.4 GB of page faults in 7,200 images).
class BatchMemory {
 public:
  // A float tensor of `shape`, the memory of an earlier batch when one is free.
  at::Tensor acquire(const std::vector<int64_t>& shape) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const at::Tensor& spare : spares_)
      // Free when this list holds the only reference to the tensor and nothing views its storage.
      if (spare.use_count() == 1 && spare.storage().use_count() == 1 &&
          spare.sizes() == at::IntArrayRef(shape))
        return spare;
    at::Tensor images = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
    if (kept_bytes_ + images.nbytes() <= kMaxKeptBytes) {
      kept_bytes_ += images.nbytes();
      spares_.push_back(images);
    }
    return images;
  }

 private:
  static constexpr size_t kMaxKeptBytes = size_t{2} << 30;
  std::mutex mutex_;
  std::vector<at::Tensor> spares_;
  size_t kept_bytes_ = 0;
};

BatchMemory& batch_memory() {
  static BatchMemory* memory = new BatchMemory;  // never destroyed: tensors outlive static destruction order
  return *memory;
}

}  // namespace

// Pinned memory is left to LibTorch's caching host allocator, which also waits for asynchronous
// copies to the GPU before it hands a block out again.
at::Tensor BatchLoader::batch_images(const std::vector<int64_t>& shape) {
  if (options_.pin_memory) return at::empty(shape, at::TensorOptions().dtype(at::kFloat).pinned_memory(true));
  return batch_memory().acquire(shape);
}

// Sets up the slots of the batches that may be filled now. Called by the consumer's thread only
// (with the lock held once workers run): batch memory is then allocated and freed by one thread,
// which keeps glibc from spreading it over the workers' arenas (measured: peak memory grew by
// ~35 MB over 140 steps when workers allocated the batches).
void BatchLoader::open_batches() {
  while (opened_ < num_batches_ && opened_ < consumed_ + static_cast<int64_t>(slots_.size())) {
    Slot& next = slot(opened_);
    BatchPlan plan = plan_(opened_);
    const int64_t size = static_cast<int64_t>(plan.positions.size());
    std::vector<int64_t> shape = samples_.sample_shape();
    shape.insert(shape.begin(), size);
    next.data.images = batch_images(shape);
    next.data.labels =
        at::empty({size}, at::TensorOptions().dtype(at::kLong).pinned_memory(options_.pin_memory));
    int64_t* labels = next.data.labels.data_ptr<int64_t>();
    for (int64_t k = 0; k < size; ++k) labels[k] = samples_.label(plan.positions[static_cast<size_t>(k)]);
    next.data.global_size = plan.global_size;
    next.positions = std::move(plan.positions);
    next.claimed = 0;
    next.writing = 0;
    next.remaining = size;
    next.batch = opened_++;
  }
  work_changed_.notify_all();
}

void BatchLoader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_ && !error_) {
    if (filling_ < opened_) {
      Slot& current = slot(filling_);
      const int64_t size = static_cast<int64_t>(current.positions.size());
      if (current.claimed == size) {
        ++filling_;
        continue;
      }
      const int64_t chunk = std::clamp<int64_t>(size / (4 * options_.threads), 1, 16);
      const int64_t first = current.claimed, count = std::min(chunk, size - first);
      current.claimed += count;
      ++current.writing;
      float* out = current.data.images.data_ptr<float>() + first * sample_floats_;
      const int64_t* positions = current.positions.data() + first;
      lock.unlock();  // the sample work runs unlocked; the slot stays put until it is consumed
      try {
        for (int64_t k = 0; k < count; ++k)
          samples_.write_sample(positions[k], epoch_, out + k * sample_floats_);
      } catch (...) {
        lock.lock();
        --current.writing;
        if (!error_) error_ = std::current_exception();
        batch_done_.notify_all();
        return;
      }
      lock.lock();
      --current.writing;
      // After another worker's error the consumer waits for every claimed chunk (next()).
      if ((current.remaining -= count) == 0 || error_) batch_done_.notify_all();
    } else if (opened_ == num_batches_) {
      return;  // every sample is claimed
    } else {
      work_changed_.wait(lock);  // every slot is full: wait for the consumer
    }
  }
}

bool BatchLoader::next(Batch& batch) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (consumed_ == num_batches_) return false;
  Slot& ready = slot(consumed_);
  const auto complete = [&] { return ready.batch == consumed_ && ready.remaining == 0; };
  // Every claimed chunk of this batch is written or has failed (the workers that claimed them
  // finish them even after another worker failed): only then can an error decide that the batch
  // stays incomplete.
  const auto settled = [&] { return ready.batch != consumed_ || ready.writing == 0; };
  if (!complete()) {
    const auto start = std::chrono::steady_clock::now();
    batch_done_.wait(lock, [&] { return complete() || (error_ && settled()); });
    wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  // Batches finished before a worker failed, or being finished when it failed, are still handed
  // out; the error surfaces at the first batch that cannot be completed.
  if (!complete()) std::rethrow_exception(error_);
  batch = std::move(ready.data);
  ready.data = Batch();
  ready.batch = -1;
  ++consumed_;
  open_batches();
  return true;
}

}  // namespace hpa::data
