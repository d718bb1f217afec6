// The dataset variants of the paper's experiments, as the reference code defines them:
// - a random subset of K classes, relabelled 0..K-1 in the order drawn, in every part (--classes);
// - label noise: a fraction P of the training split (never validation or test) gets the label
//   (y + U{1..C-1}) mod C, the samples and offsets fixed by the noise seed (--label-noise; P = 1 is
//   Zhang et al.'s random labels);
// - pixel shuffle: every image of the training split gets its own fixed random permutation of its
//   H*W pixel positions, drawn from the noise seed and applied to all channels alike after
//   augmentation (--pixel-shuffle).
// Every draw is keyed by (noise or class seed, the sample's index in its file), so the variant does
// not depend on the training seed, the rank count or the epoch. Datasets and samples are wrapped,
// never copied.
#pragma once

#include "data/dataset.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace hpa::data {

// The original labels of the K classes kept, in their new order (new label i = classes[i]).
std::vector<int64_t> drawn_classes(int64_t num_classes, int64_t keep, uint64_t class_seed);

// `dataset` restricted to the classes `drawn_classes` picks; throws naming --classes unless
// 2 <= keep <= the dataset's classes.
std::unique_ptr<Dataset> keep_classes(std::unique_ptr<Dataset> dataset, int64_t keep, uint64_t class_seed);

// The labels of the samples `indices` (ascending indices into their file, with labels `labels`)
// after label noise: exactly round(fraction * n) of them, the ones whose keyed words are smallest,
// get (y + U{1..C-1}) mod C.
std::vector<int64_t> noisy_labels(const std::vector<int64_t>& labels, const std::vector<int64_t>& indices,
                                  int64_t num_classes, double fraction, uint64_t noise_seed);

// `samples` with other labels (one per sample, e.g. from noisy_labels).
std::unique_ptr<SampleSet> with_label_noise(std::unique_ptr<SampleSet> samples, std::vector<int64_t> labels);

// The pixel permutation of the sample at `index` of its file: output position p takes input pixel
// permutation[p].
std::vector<int64_t> pixel_permutation(int64_t pixels, uint64_t noise_seed, int64_t index);

// `samples` (the samples `indices` of their file) with every image's pixels permuted.
std::unique_ptr<SampleSet> with_pixel_shuffle(std::unique_ptr<SampleSet> samples, std::vector<int64_t> indices,
                                              uint64_t noise_seed);

}  // namespace hpa::data
