// Dataset dispatch, normalization and the validation split.
#include "data/dataset.hpp"

#include "common/error.hpp"
#include "common/keyed_random.hpp"
#include "data/memory_dataset.hpp"
#include "data/packed_dataset.hpp"

#include <algorithm>
#include <numeric>

namespace hpa::data {

std::vector<std::string> dataset_names() {
  return {"mnist", "fashion-mnist", "cifar10", "cifar100", "imagenet"};
}

std::string dataset_name(DatasetKind kind) {
  return dataset_names().at(static_cast<size_t>(kind));  // the enum's order
}

DatasetKind parse_dataset(const std::string& name) {
  const std::vector<std::string> names = dataset_names();
  const auto found = std::find(names.begin(), names.end(), name);
  if (found == names.end())
    HPA_FAIL("--dataset " << name
                          << ": unknown dataset (known: mnist, fashion-mnist, cifar10, cifar100, imagenet)");
  return static_cast<DatasetKind>(found - names.begin());
}

std::unique_ptr<Dataset> load_dataset(const std::string& name, const std::string& dir,
                                      const ImageTransform& image) {
  if (name == "mnist" || name == "fashion-mnist") return load_idx_dataset(name, dir);
  if (name == "cifar10" || name == "cifar100") return load_cifar_dataset(name, dir);
  if (name == "imagenet") return std::make_unique<PackedDataset>(name, dir, image);
  HPA_FAIL("--dataset " << name
                        << ": unknown dataset (known: mnist, fashion-mnist, cifar10, cifar100, imagenet)");
}

Normalization Dataset::normalization(NormalizationKind kind,
                                     const std::vector<int64_t>& train_indices) const {
  if (kind != NormalizationKind::dataset) return constant_normalization(kind, sample_shape()[0]);
  return normalization_from_histograms(pixel_histograms(train_indices));
}

std::vector<int64_t> all_indices(int64_t count) {
  std::vector<int64_t> indices(static_cast<size_t>(count));
  std::iota(indices.begin(), indices.end(), 0);
  return indices;
}

Split split_validation(const std::vector<int64_t>& labels, double fraction, uint64_t seed, bool stratified,
                       int64_t num_classes) {
  HPA_REQUIRE(fraction >= 0.0 && fraction < 1.0, "--val-fraction must be in [0, 1), got " << fraction);
  const int64_t total = static_cast<int64_t>(labels.size());
  const std::vector<int64_t> order =
      keyed_permutation(total, seed, /*epoch=*/0, RandomStream::validation_split);
  std::vector<char> is_validation(static_cast<size_t>(total), 0);
  if (stratified) {
    std::vector<int64_t> per_class(static_cast<size_t>(num_classes), 0), taken(per_class.size(), 0);
    for (int64_t label : labels) ++per_class[static_cast<size_t>(label)];
    for (int64_t i : order) {
      const size_t c = static_cast<size_t>(labels[static_cast<size_t>(i)]);
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
  Split split;
  for (int64_t i = 0; i < total; ++i)
    (is_validation[static_cast<size_t>(i)] ? split.validation : split.train).push_back(i);
  HPA_REQUIRE(!split.train.empty(), "--val-fraction " << fraction << " leaves no training samples");
  return split;
}

}  // namespace hpa::data
