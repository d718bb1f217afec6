// Image-pack datasets; see packed_dataset.hpp.
#include "data/packed_dataset.hpp"

#include "common/error.hpp"
#include "common/keyed_random.hpp"

#include <filesystem>

namespace hpa::data {

PackedDataset::PackedDataset(std::string name, const std::string& dir, const ImageTransform& transform)
    : name_(std::move(name)), transform_(transform) {
  namespace fs = std::filesystem;
  HPA_REQUIRE(fs::is_directory(dir), "--data-dir " << dir << ": no such directory");
  const std::string train_path = (fs::path(dir) / "train.h5").string(),
                    test_path = (fs::path(dir) / "val.h5").string();
  HPA_REQUIRE(fs::exists(train_path),
              "--data-dir " << dir << ": no train.h5 (pack the training folder with hpa-pack)");
  HPA_REQUIRE(fs::exists(test_path), "--data-dir "
                                         << dir
                                         << ": no val.h5 (pack the official validation folder with hpa-pack "
                                            "--val-solution ... --classes-from train.h5)");
  files_ = {train_path, test_path};
  train_ = store::ImagePack::open(train_path);
  test_ = store::ImagePack::open(test_path);
  const auto& train_classes = train_->classes();
  const auto& test_classes = test_->classes();
  if (train_classes != test_classes) {
    size_t k = 0;
    while (k < train_classes.size() && k < test_classes.size() && train_classes[k] == test_classes[k]) ++k;
    HPA_FAIL(test_path << ": its " << test_classes.size() << " classes differ from the "
                       << train_classes.size() << " of " << train_path << " (first difference at class " << k
                       << ": '" << (k < test_classes.size() ? test_classes[k] : "") << "' vs '"
                       << (k < train_classes.size() ? train_classes[k] : "") << "')");
  }
  HPA_REQUIRE(train_->size() > 0, train_path << ": the pack holds no images");
  HPA_REQUIRE(test_->size() > 0, test_path << ": the pack holds no images");
  train_count_ = train_->size();
  test_count_ = test_->size();
}

std::vector<int64_t> PackedDataset::labels(Part part) const {
  const auto& labels = (part == Part::train ? train_ : test_)->labels();
  return {labels.begin(), labels.begin() + size(part)};
}

void PackedDataset::keep_first(Part part, int64_t count) {
  const char* option = part == Part::train ? "--train-subset" : "--test-subset";
  int64_t& kept = part == Part::train ? train_count_ : test_count_;
  HPA_REQUIRE(count > 0, option << " must be positive, got " << count);
  HPA_REQUIRE(count <= kept, option << " " << count << " is larger than the pack (" << kept << ")");
  kept = count;
}

std::unique_ptr<SampleSet> PackedDataset::samples(Part part, std::vector<int64_t> indices,
                                                  const Normalization& normalization, Augment augment,
                                                  uint64_t seed) const {
  ImageTransform transform = transform_;
  transform.train = augment.enabled;
  transform.flip = augment.flip;
  return std::make_unique<PackedSamples>(part == Part::train ? train_ : test_, std::move(indices), transform,
                                         normalization, seed);
}

std::vector<std::vector<uint64_t>> PackedDataset::pixel_histograms(const std::vector<int64_t>&) const {
  HPA_FAIL(
      "--normalize dataset: the statistics of a packed dataset would need every image decoded; use "
      "--normalize imagenet (torchvision's published ImageNet mean and std), unit or symmetric");
}

PackedSamples::PackedSamples(std::shared_ptr<const store::ImagePack> pack, std::vector<int64_t> indices,
                             ImageTransform transform, const Normalization& normalization, uint64_t seed)
    : pack_(std::move(pack)), indices_(std::move(indices)), transform_(transform), seed_(seed) {
  HPA_INTERNAL_CHECK(normalization.mean.size() == 3, "packed images are RGB");
  for (size_t c = 0; c < 3; ++c) {
    normalization_.mean[c] = normalization.mean[c];
    normalization_.std[c] = normalization.std[c];
  }
  for (int64_t index : indices_)
    HPA_INTERNAL_CHECK(index >= 0 && index < pack_->size(), "pack sample " << index << " out of range");
}

int64_t PackedSamples::label(int64_t position) const {
  return pack_->labels()[static_cast<size_t>(indices_[static_cast<size_t>(position)])];
}

void PackedSamples::write_sample(int64_t position, uint64_t epoch, float* out) const {
  write_sample_with_geometry(position, epoch, out);
}

TransformGeometry PackedSamples::write_sample_with_geometry(int64_t position, uint64_t epoch,
                                                            float* out) const {
  struct Buffers {
    std::vector<uint8_t> encoded;
    TransformScratch scratch;
  };
  thread_local Buffers buffers;  // reused from sample to sample by each loader thread
  const int64_t index = indices_[static_cast<size_t>(position)];
  TransformGeometry geometry;
  try {
    pack_->read(index, buffers.encoded);
    const uint64_t random =
        keyed_random(seed_, epoch, static_cast<uint64_t>(index), RandomStream::augmentation);
    geometry = transform_image(buffers.encoded.data(), buffers.encoded.size(), transform_, random,
                               normalization_, buffers.scratch, out);
  } catch (const Error& error) {
    HPA_FAIL(pack_->path() << ": sample " << index << ": " << error.what());
  }
  return geometry;
}

}  // namespace hpa::data
