// Batch assembly: one pass per sample from uint8 to normalized float, with the crop offset and
// flip folded into the source index.
#include "data/batches.hpp"

#include "common/error.hpp"
#include "data/keyed_random.hpp"

#include <ATen/Functions.h>

#include <cmath>

namespace hpa::data {

NormalizationKind parse_normalization(const std::string& name) {
  if (name == "dataset") return NormalizationKind::dataset;
  if (name == "unit") return NormalizationKind::unit;
  if (name == "symmetric") return NormalizationKind::symmetric;
  HPA_FAIL("--normalize " << name << ": unknown normalization (dataset, unit or symmetric)");
}

std::string normalization_name(NormalizationKind kind) {
  switch (kind) {
    case NormalizationKind::dataset:
      return "dataset";
    case NormalizationKind::unit:
      return "unit";
    case NormalizationKind::symmetric:
      return "symmetric";
  }
  return "?";
}

Normalization Normalization::make(NormalizationKind kind, const ImageSet& train) {
  const int64_t channels = train.images.size(1);
  Normalization result;
  if (kind == NormalizationKind::unit) {
    result.mean.assign(static_cast<size_t>(channels), 0.0f);
    result.std.assign(static_cast<size_t>(channels), 1.0f);
  } else if (kind == NormalizationKind::symmetric) {
    result.mean.assign(static_cast<size_t>(channels), 0.5f);
    result.std.assign(static_cast<size_t>(channels), 0.5f);
  } else {
    const at::Tensor pixels =
        train.images.transpose(0, 1).reshape({channels, -1}).to(at::kDouble).div_(255.0);
    const at::Tensor mean = pixels.mean(1), std = pixels.std(1, /*unbiased=*/false);
    for (int64_t c = 0; c < channels; ++c) {
      result.mean.push_back(static_cast<float>(mean[c].item<double>()));
      result.std.push_back(static_cast<float>(std::max(std[c].item<double>(), 1e-6)));
    }
  }
  return result;
}

std::pair<int64_t, int64_t> rank_share(int64_t global_count, int group_rank, int group_size) {
  const int64_t base = global_count / group_size, extra = global_count % group_size;
  const int64_t count = base + (group_rank < extra ? 1 : 0);
  const int64_t first = group_rank * base + std::min<int64_t>(group_rank, extra);
  return {first, count};
}

BatchAssembler::BatchAssembler(const ImageSet& set, Normalization normalization, Augmentation augmentation,
                               uint64_t seed)
    : set_(set), normalization_(std::move(normalization)), augmentation_(augmentation), seed_(seed) {}

Batch BatchAssembler::assemble(const std::vector<int64_t>& indices, uint64_t epoch) const {
  const int64_t count = static_cast<int64_t>(indices.size());
  const int64_t channels = set_.images.size(1), height = set_.images.size(2), width = set_.images.size(3);
  const int64_t plane = height * width, image_size = channels * plane;
  Batch batch;
  batch.images = at::empty({count, channels, height, width}, at::TensorOptions().dtype(at::kFloat));
  batch.labels = at::empty({count}, at::TensorOptions().dtype(at::kLong));
  const uint8_t* source = set_.images.data_ptr<uint8_t>();
  const int64_t* labels = set_.labels.data_ptr<int64_t>();
  float* out = batch.images.data_ptr<float>();
  int64_t* out_labels = batch.labels.data_ptr<int64_t>();

  std::vector<float> scale(static_cast<size_t>(channels)), offset(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {  // value = pixel * scale + offset = (pixel/255 - mean) / std
    scale[static_cast<size_t>(c)] = 1.0f / (255.0f * normalization_.std[static_cast<size_t>(c)]);
    offset[static_cast<size_t>(c)] =
        -normalization_.mean[static_cast<size_t>(c)] / normalization_.std[static_cast<size_t>(c)];
  }
  for (int64_t b = 0; b < count; ++b) {
    const int64_t index = indices[static_cast<size_t>(b)];
    HPA_INTERNAL_CHECK(index >= 0 && index < set_.size(), "sample index " << index << " out of range");
    out_labels[b] = labels[index];
    const uint8_t* image = source + index * image_size;
    float* target = out + b * image_size;
    int64_t shift_x = 0, shift_y = 0;
    bool flip = false;
    if (augmentation_.enabled) {
      const uint64_t word =
          keyed_random(seed_, epoch, static_cast<uint64_t>(index), RandomStream::augmentation);
      const uint64_t span = static_cast<uint64_t>(2 * augmentation_.max_shift + 1);
      shift_x = static_cast<int64_t>(bounded(word, span)) - augmentation_.max_shift;
      shift_y = static_cast<int64_t>(bounded(splitmix64(word), span)) - augmentation_.max_shift;
      flip = augmentation_.horizontal_flip && (splitmix64(word ^ 0x5bd1e995ull) & 1);
    }
    for (int64_t c = 0; c < channels; ++c) {
      const float s = scale[static_cast<size_t>(c)], o = offset[static_cast<size_t>(c)];
      const uint8_t* src_plane = image + c * plane;
      float* dst_plane = target + c * plane;
      for (int64_t y = 0; y < height; ++y) {
        const int64_t sy = y + shift_y;
        float* dst_row = dst_plane + y * width;
        if (sy < 0 || sy >= height) {
          for (int64_t x = 0; x < width; ++x) dst_row[x] = o;  // zero padding, normalized
          continue;
        }
        const uint8_t* src_row = src_plane + sy * width;
        for (int64_t x = 0; x < width; ++x) {
          const int64_t cropped_x = flip ? width - 1 - x : x;  // flip after the crop, as RandomCrop then Flip
          const int64_t sx = cropped_x + shift_x;
          dst_row[x] = (sx < 0 || sx >= width) ? o : static_cast<float>(src_row[sx]) * s + o;
        }
      }
    }
  }
  return batch;
}

Prefetcher::Prefetcher(std::function<Batch(int64_t)> make, int64_t count)
    : make_(std::move(make)), count_(count), worker_([this] { produce(); }) {}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

void Prefetcher::produce() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] { return stop_ || !has_ready_; });
      if (stop_ || produced_ == count_ || error_) return;
    }
    Batch batch;
    std::exception_ptr error;
    try {
      batch = make_(produced_);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_ = std::move(batch);
      error_ = error;
      has_ready_ = true;
      ++produced_;
    }
    changed_.notify_all();
  }
}

bool Prefetcher::next(Batch& batch) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (consumed_ == count_) return false;
  changed_.wait(lock, [this] { return has_ready_; });
  if (error_) std::rethrow_exception(error_);
  batch = std::move(ready_);
  has_ready_ = false;
  ++consumed_;
  changed_.notify_all();
  return true;
}

}  // namespace hpa::data
