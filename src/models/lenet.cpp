// The LeNet variant of the paper's MNIST experiments (appendix A.7): six 3x3 convolutions
// [6,6,M,16,16,M,64,64,M], adaptive average pool to 3x3, then 576 -> 120 -> 84 -> classes.
#include "models/architectures.hpp"
#include "models/keyed_dropout.hpp"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

namespace hpa::models {

ConvNet build_lenet(const ModelSpec& spec) {
  namespace nn = torch::nn;
  constexpr int kPool = 0;
  nn::Sequential features;
  std::vector<SpatialOp> spatial_ops;
  int64_t channels = spec.in_channels;
  for (int entry : {6, 6, kPool, 16, 16, kPool, 64, 64, kPool}) {
    if (entry == kPool) {
      features->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(/*kernel_size=*/2).stride(2)));
      spatial_ops.push_back({2, 2, 0});
      continue;
    }
    const int64_t out_channels = scale_width(entry, spec.width);
    features->push_back(nn::Conv2d(nn::Conv2dOptions(channels, out_channels, /*kernel_size=*/3).padding(1)));
    features->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
    spatial_ops.push_back({3, 1, 1});
    channels = out_channels;
  }
  const int64_t hidden1 = scale_width(120, spec.width), hidden2 = scale_width(84, spec.width);
  nn::Sequential classifier(nn::Linear(channels * 3 * 3, hidden1), nn::ReLU(nn::ReLUOptions().inplace(true)),
                            KeyedDropout(spec.dropout, 1), nn::Linear(hidden1, hidden2),
                            nn::ReLU(nn::ReLUOptions().inplace(true)), KeyedDropout(spec.dropout, 2),
                            nn::Linear(hidden2, spec.num_classes));
  return ConvNet(features, nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({3, 3})), classifier,
                 std::move(spatial_ops));
}

}  // namespace hpa::models
