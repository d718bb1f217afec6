// The paper's dataset variants (data/variants.hpp): class subsets, label noise and pixel shuffle,
// each checked by counting and by recomputing with plain tensor indexing.
#include "common/error.hpp"
#include "data/batches.hpp"
#include "data/memory_dataset.hpp"
#include "data/variants.hpp"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

namespace {

hpa::data::ImageSet image_set(int64_t n, int64_t classes, int64_t channels, int64_t side) {
  hpa::data::ImageSet set;
  set.images = at::randint(0, 256, {n, channels, side, side}, at::TensorOptions().dtype(at::kByte));
  set.labels = at::arange(n, at::TensorOptions().dtype(at::kLong)).remainder(classes);
  return set;
}

// Sample `position` of `samples` in `epoch`, as a [C, H, W] tensor.
at::Tensor sample(const hpa::data::SampleSet& samples, int64_t position, uint64_t epoch) {
  at::Tensor out = at::empty(samples.sample_shape(), at::TensorOptions().dtype(at::kFloat));
  samples.write_sample(position, epoch, out.data_ptr<float>());
  return out;
}

const hpa::data::Normalization kUnit = hpa::data::constant_normalization(hpa::data::NormalizationKind::unit, 3);

TEST(Variants, ClassSubsetKeepsKClassesRelabelledInEveryPart) {
  auto inner = std::make_unique<hpa::data::InMemoryDataset>("synthetic", 10, image_set(200, 10, 3, 4),
                                                            image_set(50, 10, 3, 4));
  const hpa::data::ImageSet train = inner->set(hpa::data::Part::train), test = inner->set(hpa::data::Part::test);
  const std::vector<int64_t> classes = hpa::data::drawn_classes(10, 4, 42);
  ASSERT_EQ(classes.size(), 4u);
  EXPECT_EQ(std::set<int64_t>(classes.begin(), classes.end()).size(), 4u);
  for (int64_t c : classes) EXPECT_TRUE(c >= 0 && c < 10);
  EXPECT_NE(classes, hpa::data::drawn_classes(10, 4, 43));  // another class seed, another subset
  const std::unique_ptr<hpa::data::Dataset> subset = hpa::data::keep_classes(std::move(inner), 4, 42);
  EXPECT_EQ(subset->num_classes(), 4);
  for (auto [part, set] : {std::pair{hpa::data::Part::train, train}, std::pair{hpa::data::Part::test, test}}) {
    // The samples kept, in file order, are those of the drawn classes; new label = rank in the draw.
    std::vector<int64_t> expected_index, expected_label;
    for (int64_t i = 0; i < set.size(); ++i) {
      const int64_t label = set.labels[i].item<int64_t>();
      const auto found = std::find(classes.begin(), classes.end(), label);
      if (found == classes.end()) continue;
      expected_index.push_back(i);
      expected_label.push_back(found - classes.begin());
    }
    EXPECT_EQ(subset->size(part), static_cast<int64_t>(expected_index.size()));
    EXPECT_EQ(subset->labels(part), expected_label);
    const auto samples = subset->samples(part, hpa::data::all_indices(subset->size(part)), kUnit, {}, 1);
    for (int64_t k = 0; k < samples->size(); k += 7) {
      EXPECT_EQ(samples->label(k), expected_label[static_cast<size_t>(k)]);
      EXPECT_TRUE(at::allclose(sample(*samples, k, 0),
                               set.images[expected_index[static_cast<size_t>(k)]].to(at::kFloat) / 255.0));
    }
  }
  subset->keep_first(hpa::data::Part::train, 10);
  EXPECT_EQ(subset->size(hpa::data::Part::train), 10);
  EXPECT_THROW(subset->keep_first(hpa::data::Part::test, 1000), hpa::Error);
}

TEST(Variants, ClassCountOutOfRangeNamesTheOption) {
  for (int64_t keep : {1, 11, -3}) {
    auto inner = std::make_unique<hpa::data::InMemoryDataset>("synthetic", 10, image_set(20, 10, 1, 4),
                                                              image_set(10, 10, 1, 4));
    try {
      hpa::data::keep_classes(std::move(inner), keep, 0);
      ADD_FAILURE() << "--classes " << keep << " accepted";
    } catch (const hpa::Error& error) {
      EXPECT_NE(std::string(error.what()).find("--classes"), std::string::npos) << error.what();
    }
  }
}

TEST(Variants, LabelNoiseChangesExactlyTheFractionOfTheTrainingSplit) {
  const int64_t n = 2000, classes = 10;
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = (i * 7) % classes;
  std::vector<int64_t> train;  // every sample but the multiples of 5 (the "validation" split)
  for (int64_t i = 0; i < n; ++i)
    if (i % 5 != 0) train.push_back(i);
  for (double fraction : {0.0, 0.3, 0.5, 1.0}) {
    const std::vector<int64_t> noisy = hpa::data::noisy_labels(labels, train, classes, fraction, 12345);
    ASSERT_EQ(noisy.size(), train.size());
    int64_t changed = 0;
    for (size_t k = 0; k < train.size(); ++k) {
      EXPECT_TRUE(noisy[k] >= 0 && noisy[k] < classes);
      changed += noisy[k] != labels[static_cast<size_t>(train[k])];
    }
    EXPECT_EQ(changed, static_cast<int64_t>(std::llround(fraction * static_cast<double>(train.size()))))
        << "fraction " << fraction;
  }
  // Fixed by the noise seed; another seed picks other samples.
  EXPECT_EQ(hpa::data::noisy_labels(labels, train, classes, 0.3, 7),
            hpa::data::noisy_labels(labels, train, classes, 0.3, 7));
  EXPECT_NE(hpa::data::noisy_labels(labels, train, classes, 0.3, 7),
            hpa::data::noisy_labels(labels, train, classes, 0.3, 8));
  // Every offset 1..C-1 about equally often (P = 1 over 8,000 samples: 889 each expected).
  std::vector<int64_t> big_labels(9000 * 1, 3), all(9000);
  for (int64_t i = 0; i < 9000; ++i) all[static_cast<size_t>(i)] = i;
  std::map<int64_t, int64_t> offsets;
  for (int64_t label : hpa::data::noisy_labels(big_labels, all, classes, 1.0, 1)) ++offsets[(label - 3 + classes) % classes];
  EXPECT_EQ(offsets.count(0), 0u);
  EXPECT_EQ(offsets.size(), 9u);
  for (auto [offset, count] : offsets) EXPECT_NEAR(count, 1000, 120) << "offset " << offset;
  EXPECT_THROW(hpa::data::noisy_labels(labels, train, classes, 1.5, 1), hpa::Error);
}

TEST(Variants, LabelNoiseWrapperKeepsThePixels) {
  const hpa::data::ImageSet set = image_set(20, 4, 3, 4);
  const hpa::data::InMemorySamples plain(set, hpa::data::all_indices(20), kUnit, {}, 1);
  const std::vector<int64_t> labels(20, 2);
  const auto noisy = hpa::data::with_label_noise(
      std::make_unique<hpa::data::InMemorySamples>(set, hpa::data::all_indices(20), kUnit,
                                                   hpa::data::Augmentation{}, 1),
      labels);
  for (int64_t k = 0; k < 20; ++k) {
    EXPECT_EQ(noisy->label(k), 2);
    EXPECT_TRUE(at::equal(sample(*noisy, k, 3), sample(plain, k, 3)));
  }
}

TEST(Variants, PixelShuffleIsOneFixedPermutationPerImageAfterAugmentation) {
  const hpa::data::ImageSet set = image_set(30, 3, 3, 6);
  hpa::data::Augmentation augmentation;
  augmentation.enabled = true;
  const std::vector<int64_t> indices = {1, 4, 9, 16, 25};
  const hpa::data::InMemorySamples augmented(set, indices, kUnit, augmentation, 5);
  const auto shuffled = hpa::data::with_pixel_shuffle(
      std::make_unique<hpa::data::InMemorySamples>(set, indices, kUnit, augmentation, 5), indices, 99);
  std::set<std::vector<int64_t>> permutations;
  for (size_t k = 0; k < indices.size(); ++k) {
    const std::vector<int64_t> permutation = hpa::data::pixel_permutation(36, 99, indices[k]);
    std::vector<int64_t> sorted = permutation;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t p = 0; p < 36; ++p) ASSERT_EQ(sorted[static_cast<size_t>(p)], p);
    permutations.insert(permutation);
    const at::Tensor index = at::tensor(permutation, at::TensorOptions().dtype(at::kLong));
    for (uint64_t epoch : {0, 1, 7}) {  // the same permutation every epoch, the augmentation differs
      const at::Tensor before = sample(augmented, static_cast<int64_t>(k), epoch).reshape({3, 36});
      const at::Tensor expected = before.index_select(1, index).reshape({3, 6, 6});
      EXPECT_TRUE(at::equal(sample(*shuffled, static_cast<int64_t>(k), epoch), expected));
    }
    EXPECT_EQ(shuffled->label(static_cast<int64_t>(k)), augmented.label(static_cast<int64_t>(k)));
  }
  EXPECT_EQ(permutations.size(), indices.size());  // every image its own permutation
  EXPECT_NE(hpa::data::pixel_permutation(36, 99, 1), hpa::data::pixel_permutation(36, 100, 1));
}

}  // namespace
