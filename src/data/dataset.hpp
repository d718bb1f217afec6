// Datasets as training sees them: a training part and a test part of labelled samples, the
// seeded train/validation split (positions, never copies), and SampleSets over chosen samples.
// In memory: MNIST, Fashion-MNIST (IDX) and CIFAR (binary) as uint8 [N, C, H, W]
// (memory_dataset.hpp). Streamed: ImageNet from image packs (packed_dataset.hpp).
#pragma once

#include "data/image_transforms.hpp"
#include "data/samples.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hpa::data {

enum class Part { train, test };

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::string name() const = 0;
  virtual int64_t num_classes() const = 0;
  virtual std::vector<int64_t> sample_shape() const = 0;  // {C, H, W} of a sample as the model sees it
  virtual int64_t size(Part part) const = 0;
  virtual std::vector<int64_t> labels(Part part) const = 0;
  // Keeps the first `count` samples of `part` (--train-subset, --test-subset).
  virtual void keep_first(Part part, int64_t count) = 0;
  // The samples of `part` at `indices`, augmented for training or (augment.enabled false) not.
  virtual std::unique_ptr<SampleSet> samples(Part part, std::vector<int64_t> indices,
                                             const Normalization& normalization, Augment augment,
                                             uint64_t seed) const = 0;
  // `kind` for the training samples at `train_indices`: the constants, or their channel statistics.
  Normalization normalization(NormalizationKind kind, const std::vector<int64_t>& train_indices) const;
  // True when samples are decoded from compressed images: their loaders use --data-threads workers.
  virtual bool decodes_images() const { return false; }
  // The files the samples come from (paths), in a fixed order.
  virtual std::vector<std::string> files() const = 0;
  // True when every stored image has the same size (--pixel-shuffle needs it).
  virtual bool same_size_images() const { return true; }
  // Per-channel histograms of the 8-bit pixels of training samples `indices`.
  virtual std::vector<std::vector<uint64_t>> pixel_histograms(const std::vector<int64_t>& indices) const = 0;
};

std::vector<std::string> dataset_names();  // mnist, fashion-mnist, cifar10, cifar100, imagenet
// The datasets as the experiment names them (experiment/spec.hpp); a new dataset is added here.
enum class DatasetKind { mnist, fashion_mnist, cifar10, cifar100, imagenet };
std::string dataset_name(DatasetKind kind);
DatasetKind parse_dataset(const std::string& name);  // throws hpa::Error naming --dataset and the names

// Loads `name` from `dir` (`image` sets the ImageNet transforms); throws hpa::Error naming the file
// or option at fault.
std::unique_ptr<Dataset> load_dataset(const std::string& name, const std::string& dir,
                                      const ImageTransform& image);

std::vector<int64_t> all_indices(int64_t count);

struct Split {
  std::vector<int64_t> train;       // indices into the training part, ascending
  std::vector<int64_t> validation;  // indices into the training part, ascending
};
// Holds out a `fraction` of the training samples (given by their labels) for validation, chosen by
// a permutation keyed by `seed`. Stratified: the same fraction of every class (rounded down, at
// least one per class when the fraction is positive).
Split split_validation(const std::vector<int64_t>& labels, double fraction, uint64_t seed, bool stratified,
                       int64_t num_classes);

}  // namespace hpa::data
