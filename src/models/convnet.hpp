// The module every hpa architecture is: features -> avgpool -> flatten -> classifier, with
// torchvision's parameter names (features.0.weight, classifier.6.bias). Pure torch::nn: no MPI,
// HDF5 or data code. Architectures are built in vgg.cpp, alexnet.cpp and lenet.cpp.
#pragma once

#include "models/numerics.hpp"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/pooling.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

namespace hpa::models {

// A max-pool or convolution as far as the spatial size is concerned.
struct SpatialOp {
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t padding = 0;
};

class ConvNetImpl : public torch::nn::Module {
 public:
  ConvNetImpl(torch::nn::Sequential features, torch::nn::AdaptiveAvgPool2d avgpool,
              torch::nn::Sequential classifier, std::vector<SpatialOp> spatial_ops);

  // The model's numerics (numerics.hpp) apply: inputs are put in its memory format and the pass runs
  // under its autocast; the logits are float32 either way.
  torch::Tensor forward(torch::Tensor x);
  // Pieces of forward() for evaluating variants of one layer: features[first, last), then the head
  // (avgpool, flatten, classifier). forward(x) == forward_head(forward_features(x, 0, num_features())).
  torch::Tensor forward_features(torch::Tensor x, int64_t first, int64_t last);
  torch::Tensor forward_head(torch::Tensor x);
  int64_t num_features() const;
  // Precision and memory format of forward(); moves the 4-D parameters into the memory format (their
  // values unchanged). Call before anything keeps views of the parameters or their gradients (the
  // gradient buckets, the optimizer). forward_features/forward_head leave both to their caller.
  void set_numerics(const Numerics& numerics);
  const Numerics& numerics() const { return numerics_; }
  // One key per sample of the next training batch for the classifier's dropout layers (see
  // keyed_dropout.hpp); needed before every forward() in training mode when dropout > 0.
  void set_dropout_keys(const std::vector<uint64_t>& keys);

  // Spatial size after the feature extractor for a square input of side `input_size`; <= 0 when
  // the input is too small for the architecture (a pooling window would not fit).
  int64_t feature_map_size(int64_t input_size) const;
  // Throws hpa::Error with the smallest workable size when an HxW input cannot go through.
  void check_input_size(int64_t height, int64_t width) const;

  torch::nn::Sequential features{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool{nullptr};
  torch::nn::Sequential classifier{nullptr};

 private:
  std::vector<SpatialOp> spatial_ops_;
  Numerics numerics_;
};
TORCH_MODULE(ConvNet);

// Channel count after the width multiplier; never below one.
int64_t scale_width(int64_t channels, double width);

}  // namespace hpa::models
