// ImageNet streamed from image packs: DIR/train.h5 (the training part; validation is a seeded split
// of it, as in the paper) and DIR/val.h5 (the official validation set, the test part). Samples are
// read by offset and decoded on the loader's threads; nothing but the index is held in memory.
#pragma once

#include "data/dataset.hpp"
#include "store/image_pack.hpp"

namespace hpa::data {

class PackedDataset : public Dataset {
 public:
  // Opens DIR/train.h5 and DIR/val.h5 and checks that they name the same classes.
  PackedDataset(std::string name, const std::string& dir, const ImageTransform& transform);
  std::string name() const override { return name_; }
  int64_t num_classes() const override { return static_cast<int64_t>(train_->classes().size()); }
  std::vector<int64_t> sample_shape() const override { return {3, transform_.size, transform_.size}; }
  int64_t size(Part part) const override { return part == Part::train ? train_count_ : test_count_; }
  std::vector<int64_t> labels(Part part) const override;
  void keep_first(Part part, int64_t count) override;
  bool same_size_images() const override { return false; }
  std::unique_ptr<SampleSet> samples(Part part, std::vector<int64_t> indices,
                                     const Normalization& normalization, Augment augment,
                                     uint64_t seed) const override;
  bool decodes_images() const override { return true; }
  std::vector<std::string> files() const override { return files_; }

 protected:
  std::vector<std::vector<uint64_t>> pixel_histograms(const std::vector<int64_t>& indices) const override;

 private:
  std::string name_;
  std::vector<std::string> files_;  // train.h5, val.h5
  ImageTransform transform_;
  std::shared_ptr<const store::ImagePack> train_, test_;
  int64_t train_count_ = 0, test_count_ = 0;
};

// The samples `indices` of a pack, transformed by `transform` (train: keyed by (seed, epoch,
// index in the pack)) and normalized into float [3, size, size].
class PackedSamples : public SampleSet {
 public:
  PackedSamples(std::shared_ptr<const store::ImagePack> pack, std::vector<int64_t> indices,
                ImageTransform transform, const Normalization& normalization, uint64_t seed);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  int64_t label(int64_t position) const override;
  std::vector<int64_t> sample_shape() const override { return {3, transform_.size, transform_.size}; }
  void write_sample(int64_t position, uint64_t epoch, float* out) const override;
  // The same, also returning what the transform did (for hpa-pack --show).
  TransformGeometry write_sample_with_geometry(int64_t position, uint64_t epoch, float* out) const;

 private:
  std::shared_ptr<const store::ImagePack> pack_;
  std::vector<int64_t> indices_;
  ImageTransform transform_;
  uint64_t seed_;
  image::ChannelNormalization normalization_;
};

}  // namespace hpa::data
