// In-memory datasets and their samples; see memory_dataset.hpp.
#include "data/memory_dataset.hpp"

#include "common/error.hpp"
#include "common/keyed_random.hpp"
#include "data/idx.hpp"

#include <ATen/Functions.h>

#include <algorithm>
#include <filesystem>

namespace hpa::data {
namespace {

// The first of NAME.gz and NAME that exists.
std::string find_file(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  for (const std::string& candidate : {name + ".gz", name})
    if (fs::exists(fs::path(dir) / candidate)) return (fs::path(dir) / candidate).string();
  HPA_FAIL("--data-dir " << dir << ": neither " << name << ".gz nor " << name << " is there");
}

ImageSet load_idx_pair(const std::string& dir, const std::string& prefix) {
  const std::string images_path = find_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_file(dir, prefix + "-labels-idx1-ubyte");
  at::Tensor images = read_idx_ubyte(images_path, 3);
  at::Tensor labels = read_idx_ubyte(labels_path, 1);
  if (images.size(0) != labels.size(0))
    HPA_FAIL(labels_path << ": " << labels.size(0) << " labels for " << images.size(0) << " images in "
                         << images_path);
  return {images.unsqueeze(1), labels.to(at::kLong), {images_path, labels_path}};
}

}  // namespace

InMemoryDataset::InMemoryDataset(std::string name, int64_t num_classes, ImageSet train, ImageSet test)
    : name_(std::move(name)), num_classes_(num_classes), train_(std::move(train)), test_(std::move(test)) {}

std::vector<std::string> InMemoryDataset::files() const {
  std::vector<std::string> result = train_.files;
  result.insert(result.end(), test_.files.begin(), test_.files.end());
  return result;
}

std::vector<int64_t> InMemoryDataset::sample_shape() const { return train_.images.sizes().slice(1).vec(); }

std::vector<int64_t> InMemoryDataset::labels(Part part) const {
  const at::Tensor labels = set(part).labels.contiguous();
  return {labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + labels.numel()};
}

void InMemoryDataset::keep_first(Part part, int64_t count) {
  const char* option = part == Part::train ? "--train-subset" : "--test-subset";
  ImageSet& kept = part == Part::train ? train_ : test_;
  HPA_REQUIRE(count > 0, option << " must be positive, got " << count);
  HPA_REQUIRE(count <= kept.size(), option << " " << count << " is larger than the "
                                           << (part == Part::train ? "training" : "test") << " set ("
                                           << kept.size() << ")");
  kept.images = kept.images.narrow(0, 0, count).contiguous();
  kept.labels = kept.labels.narrow(0, 0, count).contiguous();
}

std::unique_ptr<SampleSet> InMemoryDataset::samples(Part part, std::vector<int64_t> indices,
                                                    const Normalization& normalization, Augment augment,
                                                    uint64_t seed) const {
  Augmentation augmentation;
  augmentation.enabled = augment.enabled;
  augmentation.horizontal_flip = augment.flip;
  return std::make_unique<InMemorySamples>(set(part), std::move(indices), normalization, augmentation, seed);
}

std::vector<std::vector<uint64_t>> InMemoryDataset::pixel_histograms(
    const std::vector<int64_t>& indices) const {
  const int64_t channels = train_.images.size(1);
  const int64_t plane = train_.images.size(2) * train_.images.size(3);
  std::vector<std::vector<uint64_t>> histograms(static_cast<size_t>(channels), std::vector<uint64_t>(256, 0));
  const uint8_t* pixels = train_.images.data_ptr<uint8_t>();
  for (int64_t index : indices)
    for (int64_t c = 0; c < channels; ++c) {
      const uint8_t* p = pixels + (index * channels + c) * plane;
      std::vector<uint64_t>& histogram = histograms[static_cast<size_t>(c)];
      for (int64_t k = 0; k < plane; ++k) ++histogram[p[k]];
    }
  return histograms;
}

InMemorySamples::InMemorySamples(const ImageSet& set, std::vector<int64_t> indices,
                                 Normalization normalization, Augmentation augmentation, uint64_t seed)
    : set_(set), indices_(std::move(indices)), augmentation_(augmentation), seed_(seed) {
  for (size_t c = 0; c < normalization.mean.size(); ++c) {  // value = (pixel/255 - mean) / std
    scale_.push_back(1.0f / (255.0f * normalization.std[c]));
    offset_.push_back(-normalization.mean[c] / normalization.std[c]);
  }
  HPA_INTERNAL_CHECK(static_cast<int64_t>(scale_.size()) == set.images.size(1), "normalization channels");
  for (int64_t index : indices_)
    HPA_INTERNAL_CHECK(index >= 0 && index < set.size(), "sample index " << index << " out of range");
}

int64_t InMemorySamples::label(int64_t position) const {
  return set_.labels.data_ptr<int64_t>()[indices_[static_cast<size_t>(position)]];
}

std::vector<int64_t> InMemorySamples::sample_shape() const { return set_.images.sizes().slice(1).vec(); }

void InMemorySamples::write_sample(int64_t position, uint64_t epoch, float* out) const {
  const int64_t index = indices_[static_cast<size_t>(position)];
  const int64_t channels = set_.images.size(1), height = set_.images.size(2), width = set_.images.size(3);
  const int64_t plane = height * width;
  const uint8_t* image = set_.images.data_ptr<uint8_t>() + index * channels * plane;
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
  // One pass per pixel: the crop offset and the flip are folded into the source index.
  for (int64_t c = 0; c < channels; ++c) {
    const float s = scale_[static_cast<size_t>(c)], o = offset_[static_cast<size_t>(c)];
    const uint8_t* src_plane = image + c * plane;
    float* dst_plane = out + c * plane;
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

std::unique_ptr<InMemoryDataset> load_idx_dataset(const std::string& name, const std::string& dir) {
  HPA_REQUIRE(std::filesystem::is_directory(dir), "--data-dir " << dir << ": no such directory");
  ImageSet train = load_idx_pair(dir, "train"), test = load_idx_pair(dir, "t10k");
  if (train.images.sizes().slice(1) != test.images.sizes().slice(1))
    HPA_FAIL("--data-dir " << dir << ": train and test images differ in size");
  const int64_t max_label = std::max(train.labels.max().item<int64_t>(), test.labels.max().item<int64_t>());
  if (max_label > 9) HPA_FAIL("--data-dir " << dir << ": label " << max_label << " outside 0..9");
  return std::make_unique<InMemoryDataset>(name, 10, std::move(train), std::move(test));
}

}  // namespace hpa::data
