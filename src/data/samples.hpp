// The seam between datasets and batch loading: a SampleSet turns its samples, one at a time and
// from any thread, into normalized float images, augmented or not, with every random draw keyed by
// (seed, epoch, the sample's index in its file). Also the normalizations (constants, or channel
// statistics computed in one pass over uint8 pixels). No model or MPI code here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hpa::data {

// dataset: mean/std of the seed's training split; unit: [0,1]; symmetric: [-1,1]; imagenet: the
// published ImageNet constants (mean 0.485 0.456 0.406, std 0.229 0.224 0.225) of torchvision.
enum class NormalizationKind { dataset, unit, symmetric, imagenet };

NormalizationKind parse_normalization(const std::string& name);
std::string normalization_name(NormalizationKind kind);

// How training samples are augmented: random crops (4-pixel shifts of in-memory images,
// RandomResizedCrop of packed ones) and, with `flip`, random horizontal flips. Off: evaluation.
struct Augment {
  bool enabled = false;
  bool flip = true;
};

struct Normalization {
  std::vector<float> mean;  // per channel, of pixels scaled to [0, 1]
  std::vector<float> std;
};

// The constant normalizations; throws for `dataset` (it needs data) and for imagenet on other than
// 3 channels.
Normalization constant_normalization(NormalizationKind kind, int64_t channels);

// Mean and (population) standard deviation per channel from per-channel histograms of 8-bit
// values: one pass over uint8, exact sums, no float copy of the data.
Normalization normalization_from_histograms(const std::vector<std::vector<uint64_t>>& histograms);

class SampleSet {
 public:
  virtual ~SampleSet() = default;
  virtual int64_t size() const = 0;
  virtual int64_t label(int64_t position) const = 0;
  virtual std::vector<int64_t> sample_shape() const = 0;  // {C, H, W}
  // Writes sample `position` (0 <= position < size()) as C*H*W floats; safe from several threads.
  virtual void write_sample(int64_t position, uint64_t epoch, float* out) const = 0;
};

}  // namespace hpa::data
