// Datasets held in memory as uint8 images [N, C, H, W] with int64 labels [N] (MNIST and
// Fashion-MNIST from IDX files, CIFAR from its binary version), and their samples: normalization
// and the paper's 4-pixel shift + horizontal flip augmentation, in one pass from uint8 to float.
#pragma once

#include "data/dataset.hpp"

namespace hpa::data {

struct ImageSet {
  at::Tensor images;  // uint8 [N, C, H, W]
  at::Tensor labels;  // int64 [N]
  std::vector<std::string> files;  // read from, in order
  int64_t size() const { return labels.defined() ? labels.numel() : 0; }
};

struct Augmentation {
  bool enabled = false;
  int64_t max_shift = 4;  // pixels, each direction (pad with zeros, then crop)
  bool horizontal_flip = true;
};

class InMemoryDataset : public Dataset {
 public:
  InMemoryDataset(std::string name, int64_t num_classes, ImageSet train, ImageSet test);
  std::string name() const override { return name_; }
  int64_t num_classes() const override { return num_classes_; }
  std::vector<int64_t> sample_shape() const override;
  int64_t size(Part part) const override { return set(part).size(); }
  std::vector<int64_t> labels(Part part) const override;
  void keep_first(Part part, int64_t count) override;
  std::vector<std::string> files() const override;
  std::unique_ptr<SampleSet> samples(Part part, std::vector<int64_t> indices,
                                     const Normalization& normalization, Augment augment,
                                     uint64_t seed) const override;
  const ImageSet& set(Part part) const { return part == Part::train ? train_ : test_; }

 protected:
  std::vector<std::vector<uint64_t>> pixel_histograms(const std::vector<int64_t>& indices) const override;

 private:
  std::string name_;
  int64_t num_classes_;
  ImageSet train_, test_;
};

// The samples `indices` of `set`; augmentation draws keyed by (seed, epoch, index in `set`).
class InMemorySamples : public SampleSet {
 public:
  InMemorySamples(const ImageSet& set, std::vector<int64_t> indices, Normalization normalization,
                  Augmentation augmentation, uint64_t seed);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  int64_t label(int64_t position) const override;
  std::vector<int64_t> sample_shape() const override;
  void write_sample(int64_t position, uint64_t epoch, float* out) const override;

 private:
  const ImageSet& set_;
  std::vector<int64_t> indices_;
  Augmentation augmentation_;
  uint64_t seed_;
  std::vector<float> scale_, offset_;  // per channel: value = pixel * scale + offset
};

// MNIST-style: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in `dir`.
std::unique_ptr<InMemoryDataset> load_idx_dataset(const std::string& name, const std::string& dir);
// CIFAR binary version: data_batch_{1..5}.bin + test_batch.bin (cifar10), train.bin + test.bin (cifar100).
std::unique_ptr<InMemoryDataset> load_cifar_dataset(const std::string& name, const std::string& dir);

}  // namespace hpa::data
