// Dataset loaders and the validation split.
#include "data/dataset.hpp"

#include "common/error.hpp"
#include "data/idx.hpp"
#include "data/keyed_random.hpp"

#include <ATen/Functions.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

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
  return {images.unsqueeze(1), labels.to(at::kLong)};
}

ImageSet select(const ImageSet& set, const std::vector<int64_t>& indices) {
  const at::Tensor index = at::tensor(indices, at::TensorOptions().dtype(at::kLong));
  return {set.images.index_select(0, index).contiguous(), set.labels.index_select(0, index).contiguous()};
}

}  // namespace

std::vector<std::string> dataset_names() { return {"mnist", "fashion-mnist", "cifar10", "cifar100"}; }

Dataset load_idx_dataset(const std::string& name, const std::string& dir) {
  HPA_REQUIRE(std::filesystem::is_directory(dir), "--data-dir " << dir << ": no such directory");
  Dataset dataset;
  dataset.name = name;
  dataset.train = load_idx_pair(dir, "train");
  dataset.test = load_idx_pair(dir, "t10k");
  if (dataset.train.images.sizes().slice(1) != dataset.test.images.sizes().slice(1))
    HPA_FAIL("--data-dir " << dir << ": train and test images differ in size");
  const int64_t max_label =
      std::max(dataset.train.labels.max().item<int64_t>(), dataset.test.labels.max().item<int64_t>());
  if (max_label > 9) HPA_FAIL("--data-dir " << dir << ": label " << max_label << " outside 0..9");
  dataset.num_classes = 10;
  return dataset;
}

Dataset load_dataset(const std::string& name, const std::string& dir) {
  if (name == "mnist" || name == "fashion-mnist") return load_idx_dataset(name, dir);
  if (name == "cifar10" || name == "cifar100") return load_cifar_dataset(name, dir);
  HPA_FAIL("--dataset " << name << ": unknown dataset (known: mnist, fashion-mnist, cifar10, cifar100)");
}

namespace {

void keep_first(ImageSet& set, int64_t count, const char* option, const char* which) {
  HPA_REQUIRE(count > 0, option << " must be positive, got " << count);
  HPA_REQUIRE(count <= set.size(),
              option << " " << count << " is larger than the " << which << " set (" << set.size() << ")");
  set.images = set.images.narrow(0, 0, count).contiguous();
  set.labels = set.labels.narrow(0, 0, count).contiguous();
}

}  // namespace

void take_train_subset(Dataset& dataset, int64_t count) {
  keep_first(dataset.train, count, "--train-subset", "training");
}

void take_test_subset(Dataset& dataset, int64_t count) {
  keep_first(dataset.test, count, "--test-subset", "test");
}

Split split_validation(const ImageSet& train, double fraction, uint64_t seed, bool stratified,
                       int64_t num_classes) {
  HPA_REQUIRE(fraction >= 0.0 && fraction < 1.0, "--val-fraction must be in [0, 1), got " << fraction);
  const int64_t total = train.size();
  const std::vector<int64_t> order =
      keyed_permutation(total, seed, /*epoch=*/0, RandomStream::validation_split);
  std::vector<char> is_validation(static_cast<size_t>(total), 0);
  if (stratified) {
    const at::Tensor labels = train.labels.contiguous();
    const int64_t* label = labels.data_ptr<int64_t>();
    std::vector<int64_t> per_class(static_cast<size_t>(num_classes), 0), taken(per_class.size(), 0);
    for (int64_t i = 0; i < total; ++i) ++per_class[static_cast<size_t>(label[i])];
    for (int64_t i : order) {
      const size_t c = static_cast<size_t>(label[i]);
      const int64_t quota =
          fraction > 0 ? std::max<int64_t>(1, static_cast<int64_t>(fraction * per_class[c])) : 0;
      if (taken[c] < quota && taken[c] < per_class[c] - 1) {
        is_validation[static_cast<size_t>(i)] = 1;
        ++taken[c];
      }
    }
  } else {
    const int64_t count = static_cast<int64_t>(fraction * static_cast<double>(total));
    for (int64_t k = 0; k < count; ++k) is_validation[static_cast<size_t>(order[static_cast<size_t>(k)])] = 1;
  }
  std::vector<int64_t> train_indices, validation_indices;
  for (int64_t i = 0; i < total; ++i)
    (is_validation[static_cast<size_t>(i)] ? validation_indices : train_indices).push_back(i);
  HPA_REQUIRE(!train_indices.empty(), "--val-fraction " << fraction << " leaves no training samples");
  Split split;
  split.train = select(train, train_indices);
  split.validation = validation_indices.empty() ? ImageSet{} : select(train, validation_indices);
  return split;
}

}  // namespace hpa::data
