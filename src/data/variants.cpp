// Class subsets, label noise and pixel shuffle as wrappers around datasets and sample sets.
#include "data/variants.hpp"

#include "common/error.hpp"
#include "common/keyed_random.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace hpa::data {
namespace {

// Samples of another set with other labels.
class RelabelledSamples : public SampleSet {
 public:
  RelabelledSamples(std::unique_ptr<SampleSet> inner, std::vector<int64_t> labels)
      : inner_(std::move(inner)), labels_(std::move(labels)) {
    HPA_REQUIRE(static_cast<int64_t>(labels_.size()) == inner_->size(), "relabelling: label count mismatch");
  }
  int64_t size() const override { return inner_->size(); }
  int64_t label(int64_t position) const override { return labels_[static_cast<size_t>(position)]; }
  std::vector<int64_t> sample_shape() const override { return inner_->sample_shape(); }
  void write_sample(int64_t position, uint64_t epoch, float* out) const override {
    inner_->write_sample(position, epoch, out);
  }

 private:
  std::unique_ptr<SampleSet> inner_;
  std::vector<int64_t> labels_;
};

class PixelShuffledSamples : public SampleSet {
 public:
  PixelShuffledSamples(std::unique_ptr<SampleSet> inner, std::vector<int64_t> indices, uint64_t noise_seed)
      : inner_(std::move(inner)), indices_(std::move(indices)), seed_(noise_seed) {
    const std::vector<int64_t> shape = inner_->sample_shape();
    channels_ = shape[0];
    pixels_ = shape[1] * shape[2];
  }
  int64_t size() const override { return inner_->size(); }
  int64_t label(int64_t position) const override { return inner_->label(position); }
  std::vector<int64_t> sample_shape() const override { return inner_->sample_shape(); }
  void write_sample(int64_t position, uint64_t epoch, float* out) const override {
    thread_local std::vector<float> augmented;
    augmented.resize(static_cast<size_t>(channels_ * pixels_));
    inner_->write_sample(position, epoch, augmented.data());  // augmentation first, then the shuffle
    const std::vector<int64_t> permutation =
        pixel_permutation(pixels_, seed_, indices_[static_cast<size_t>(position)]);
    for (int64_t c = 0; c < channels_; ++c) {
      const float* in_plane = augmented.data() + c * pixels_;
      float* out_plane = out + c * pixels_;
      for (int64_t p = 0; p < pixels_; ++p) out_plane[p] = in_plane[permutation[static_cast<size_t>(p)]];
    }
  }

 private:
  std::unique_ptr<SampleSet> inner_;
  std::vector<int64_t> indices_;
  uint64_t seed_;
  int64_t channels_ = 0, pixels_ = 0;
};

class ClassSubset : public Dataset {
 public:
  ClassSubset(std::unique_ptr<Dataset> inner, std::vector<int64_t> classes)
      : inner_(std::move(inner)), classes_(std::move(classes)) {
    std::vector<int64_t> new_label(static_cast<size_t>(inner_->num_classes()), -1);
    for (size_t i = 0; i < classes_.size(); ++i) new_label[static_cast<size_t>(classes_[i])] = static_cast<int64_t>(i);
    for (Part part : {Part::train, Part::test}) {
      const std::vector<int64_t> labels = inner_->labels(part);
      for (size_t i = 0; i < labels.size(); ++i) {
        const int64_t label = new_label[static_cast<size_t>(labels[i])];
        if (label < 0) continue;
        kept(part).push_back(static_cast<int64_t>(i));
        relabelled(part).push_back(label);
      }
    }
  }
  std::string name() const override { return inner_->name(); }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  std::vector<int64_t> sample_shape() const override { return inner_->sample_shape(); }
  int64_t size(Part part) const override { return static_cast<int64_t>(kept(part).size()); }
  std::vector<int64_t> labels(Part part) const override { return relabelled(part); }
  void keep_first(Part part, int64_t count) override {
    HPA_REQUIRE(count > 0 && count <= size(part),
                (part == Part::train ? "--train-subset " : "--test-subset ")
                    << count << " must be in 1.." << size(part) << " (the samples of the kept classes)");
    kept(part).resize(static_cast<size_t>(count));
    relabelled(part).resize(static_cast<size_t>(count));
  }
  std::unique_ptr<SampleSet> samples(Part part, std::vector<int64_t> indices, const Normalization& normalization,
                                     Augment augment, uint64_t seed) const override {
    std::vector<int64_t> labels(indices.size());
    for (size_t i = 0; i < indices.size(); ++i) {
      labels[i] = relabelled(part)[static_cast<size_t>(indices[i])];
      indices[i] = kept(part)[static_cast<size_t>(indices[i])];
    }
    return std::make_unique<RelabelledSamples>(inner_->samples(part, std::move(indices), normalization, augment, seed),
                                               std::move(labels));
  }
  bool decodes_images() const override { return inner_->decodes_images(); }
  bool same_size_images() const override { return inner_->same_size_images(); }
  std::vector<std::string> files() const override { return inner_->files(); }
  std::vector<std::vector<uint64_t>> pixel_histograms(const std::vector<int64_t>& indices) const override {
    std::vector<int64_t> mapped(indices.size());
    for (size_t i = 0; i < indices.size(); ++i) mapped[i] = kept(Part::train)[static_cast<size_t>(indices[i])];
    return inner_->pixel_histograms(mapped);
  }

 private:
  std::vector<int64_t>& kept(Part part) { return kept_[part == Part::train ? 0 : 1]; }
  const std::vector<int64_t>& kept(Part part) const { return kept_[part == Part::train ? 0 : 1]; }
  std::vector<int64_t>& relabelled(Part part) { return relabelled_[part == Part::train ? 0 : 1]; }
  const std::vector<int64_t>& relabelled(Part part) const { return relabelled_[part == Part::train ? 0 : 1]; }

  std::unique_ptr<Dataset> inner_;
  std::vector<int64_t> classes_;
  std::vector<int64_t> kept_[2];        // per part: indices into the inner dataset, ascending
  std::vector<int64_t> relabelled_[2];  // per part: the new labels of those samples
};

}  // namespace

std::vector<int64_t> drawn_classes(int64_t num_classes, int64_t keep, uint64_t class_seed) {
  std::vector<int64_t> order = keyed_permutation(num_classes, class_seed, 0, RandomStream::class_subset);
  order.resize(static_cast<size_t>(keep));
  return order;
}

std::unique_ptr<Dataset> keep_classes(std::unique_ptr<Dataset> dataset, int64_t keep, uint64_t class_seed) {
  HPA_REQUIRE(keep >= 2 && keep <= dataset->num_classes(),
              "--classes " << keep << " must be in 2.." << dataset->num_classes() << " (the classes of "
                           << dataset->name() << ")");
  std::vector<int64_t> classes = drawn_classes(dataset->num_classes(), keep, class_seed);
  return std::make_unique<ClassSubset>(std::move(dataset), std::move(classes));
}

std::vector<int64_t> noisy_labels(const std::vector<int64_t>& labels, const std::vector<int64_t>& indices,
                                  int64_t num_classes, double fraction, uint64_t noise_seed) {
  HPA_REQUIRE(fraction >= 0 && fraction <= 1, "--label-noise must be in [0, 1], got " << fraction);
  HPA_REQUIRE(num_classes >= 2, "--label-noise needs at least 2 classes");
  const size_t n = indices.size();
  const size_t noisy = static_cast<size_t>(std::llround(fraction * static_cast<double>(n)));
  // The samples whose keyed words are smallest: a choice fixed by the seed and the sample itself.
  std::vector<std::pair<uint64_t, size_t>> words(n);
  for (size_t i = 0; i < n; ++i)
    words[i] = {keyed_random(noise_seed, 0, static_cast<uint64_t>(indices[i]), RandomStream::label_noise), i};
  if (noisy < n) std::nth_element(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(noisy), words.end());
  std::vector<int64_t> result(n);
  for (size_t i = 0; i < n; ++i) result[i] = labels[static_cast<size_t>(indices[i])];
  for (size_t k = 0; k < noisy; ++k) {
    const size_t i = words[k].second;
    const uint64_t word = keyed_random(noise_seed, 1, static_cast<uint64_t>(indices[i]), RandomStream::label_noise);
    const int64_t offset = 1 + static_cast<int64_t>(bounded(word, static_cast<uint64_t>(num_classes - 1)));
    result[i] = (result[i] + offset) % num_classes;
  }
  return result;
}

std::unique_ptr<SampleSet> with_label_noise(std::unique_ptr<SampleSet> samples, std::vector<int64_t> labels) {
  return std::make_unique<RelabelledSamples>(std::move(samples), std::move(labels));
}

std::vector<int64_t> pixel_permutation(int64_t pixels, uint64_t noise_seed, int64_t index) {
  return keyed_permutation(pixels, noise_seed, static_cast<uint64_t>(index), RandomStream::pixel_shuffle);
}

std::unique_ptr<SampleSet> with_pixel_shuffle(std::unique_ptr<SampleSet> samples, std::vector<int64_t> indices,
                                              uint64_t noise_seed) {
  return std::make_unique<PixelShuffledSamples>(std::move(samples), std::move(indices), noise_seed);
}

}  // namespace hpa::data
