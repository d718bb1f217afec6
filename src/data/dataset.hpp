// Datasets in memory as uint8 images [N, C, H, W] and int64 labels [N], the loaders for each
// on-disk format, and the seeded train/validation split. Normalization and augmentation happen
// when batches are assembled (batches.hpp), not here.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace hpa::data {

struct ImageSet {
  at::Tensor images;  // uint8 [N, C, H, W]
  at::Tensor labels;  // int64 [N]
  int64_t size() const { return labels.numel(); }
};

struct Dataset {
  std::string name;
  int64_t num_classes = 0;
  ImageSet train;
  ImageSet test;
  int64_t channels() const { return train.images.size(1); }
  int64_t height() const { return train.images.size(2); }
  int64_t width() const { return train.images.size(3); }
};

std::vector<std::string> dataset_names();  // mnist, fashion-mnist, cifar10, cifar100
// Loads `name` from `dir`; throws hpa::Error naming the file or option at fault.
Dataset load_dataset(const std::string& name, const std::string& dir);
// MNIST-style: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in `dir`.
Dataset load_idx_dataset(const std::string& name, const std::string& dir);
// CIFAR binary version: data_batch_{1..5}.bin + test_batch.bin (cifar10), train.bin + test.bin (cifar100).
Dataset load_cifar_dataset(const std::string& name, const std::string& dir);

// Keeps the first `count` training samples (a deterministic subset for quick runs and tests).
void take_train_subset(Dataset& dataset, int64_t count);
// Keeps the first `count` test samples.
void take_test_subset(Dataset& dataset, int64_t count);

struct Split {
  ImageSet train;
  ImageSet validation;
};
// Moves a `fraction` of the training set to a validation set, chosen by a permutation keyed by
// `seed`. Stratified: the same fraction of every class (rounded down, at least one per class when
// the fraction is positive). Sample order inside each part follows the original order.
Split split_validation(const ImageSet& train, double fraction, uint64_t seed, bool stratified,
                       int64_t num_classes);

}  // namespace hpa::data
