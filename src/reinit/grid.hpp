// The layer re-initialization grid of Zhang et al. on a trained run: for a seed's final model,
// top-1 correct counts with one conv layer's weight and bias replaced by a variant (its value at an
// earlier epoch, or a fresh draw of its init distribution). Fused evaluation runs the unchanged
// prefix once per test batch and pushes all variants through the rest as one stacked batch.
// No MPI or HDF5 here: the farm and the files are the caller's.
#pragma once

#include "data/batches.hpp"
#include "models/convnet.hpp"
#include "reinit/plan.hpp"

#include <c10/core/Device.h>

#include <functional>
#include <string>
#include <vector>

namespace hpa::reinit {

struct Variant {
  at::Tensor weight;
  at::Tensor bias;  // may be undefined for a bias-free conv
};

struct EvalSettings {
  int64_t batch_size = 1000;   // test images per batch
  int64_t stack_limit = 1000;  // most images pushed through the suffix at once (variants x batch)
  data::LoaderOptions loader;  // threads preparing test batches
  c10::Device device = c10::kCPU;  // where the model and the variants are; batches are moved there
  // bf16: every evaluation below runs under autocast, whatever the model's own numerics (fp32
  // ones add nothing inside the scope). The naive one gets a scope per variant, since autocast
  // caches the casts of the weights it changes between variants.
  models::Precision precision = models::Precision::fp32;
};

// The model's cost per image, in floating-point operations, probed with one image of `shape`
// ({C, H, W}) on the CPU: the baseline (the model's own forward), and for each conv layer (its index
// K in "features.K") the prefix before it and the suffix from it on, ending in the fused
// evaluation's EvalHead. Machine-independent: what plan_items orders by. Also the activation bytes
// of one image at the model's widest point (input and output of its largest layer, float32): what
// --memory-mb is divided by.
CostModel estimate_costs(models::ConvNetImpl& model, const std::vector<int64_t>& layer_features,
                         const std::vector<int64_t>& shape, bool naive);

// The same parts timed on this machine (seconds for `images` test images, scaled from the median
// of `repeats` timings of one batch of `sample` from `test`), and the input: reading and decoding
// the test images through the batch loader, which every work item repeats.
CostModel measure_costs(models::ConvNetImpl& model, const std::vector<int64_t>& layer_features,
                        const data::SampleSet& test, const EvalSettings& settings, int64_t images, int repeats,
                        bool naive);

// Correct counts of the unchanged model on the whole set (each sample once).
int64_t count_correct(models::ConvNetImpl& model, const data::SampleSet& test, const EvalSettings& settings,
                      const std::function<void()>& service);

// Correct counts of each variant of conv module `layer_name` ("features.K"), fused.
std::vector<int64_t> count_correct_fused(models::ConvNetImpl& model, const std::string& layer_name,
                                         const std::vector<Variant>& variants, const data::SampleSet& test,
                                         const EvalSettings& settings, const std::function<void()>& service);

// The same by one full forward pass per variant (the reference, and --naive).
std::vector<int64_t> count_correct_naive(models::ConvNetImpl& model, const std::string& layer_name,
                                         const std::vector<Variant>& variants, const data::SampleSet& test,
                                         const EvalSettings& settings, const std::function<void()>& service);

// The head (avgpool, flatten, classifier) as the fused evaluation runs it. Where the adaptive
// average pool only spreads a smaller feature map over its output grid (VGG on 32x32 inputs: 1x1
// -> 7x7, 49 copies of each value into a 25088-wide first linear layer), avgpool, flatten and the
// first linear layer (behind dropout, the identity in evaluation) are one linear map of the
// unpooled features: its weight, folded once with the pool's adjoint, is h*w/(7*7) the size. Equal to model.forward_head up to float rounding;
// the plain head wherever folding would not make it cheaper.
class EvalHead {
 public:
  // `features`: {C, h, w}, the shape of one image after the feature extractor.
  EvalHead(models::ConvNetImpl& model, const std::vector<int64_t>& features);
  at::Tensor forward(const at::Tensor& x) const;
  bool folded() const { return weight_.defined(); }

 private:
  models::ConvNetImpl& model_;
  at::Tensor weight_, bias_;  // the folded first linear layer, when folded
  int64_t after_ = 0;         // the classifier's modules from this one on follow it
};

// Index K of "features.K" in the features Sequential; throws for other names.
int64_t feature_index(const std::string& layer_name);

}  // namespace hpa::reinit
