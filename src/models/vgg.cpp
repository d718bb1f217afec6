// VGG11/13/16/19 without batch norm, laid out exactly as torchvision.models.vgg*.
#include "common/error.hpp"
#include "models/architectures.hpp"
#include "models/keyed_dropout.hpp"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

namespace hpa::models {
namespace {

constexpr int kPool = 0;  // 'M' in torchvision's configuration lists

std::vector<int> vgg_config(int depth) {
  switch (depth) {
    case 11:
      return {64, kPool, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool};
    case 13:
      return {64, 64, kPool, 128, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool};
    case 16:
      return {64,    64,  kPool, 128, 128,   kPool, 256, 256, 256,
              kPool, 512, 512,   512, kPool, 512,   512, 512, kPool};
    case 19:
      return {64,  64,  kPool, 128, 128,   kPool, 256, 256, 256, 256,  kPool,
              512, 512, 512,   512, kPool, 512,   512, 512, 512, kPool};
    default:
      HPA_FAIL("VGG depth " << depth << " does not exist (11, 13, 16 or 19)");
  }
}

}  // namespace

ConvNet build_vgg(int depth, const ModelSpec& spec) {
  namespace nn = torch::nn;
  nn::Sequential features;
  std::vector<SpatialOp> spatial_ops;
  int64_t channels = spec.in_channels;
  for (int entry : vgg_config(depth)) {
    if (entry == kPool) {
      features->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(/*kernel_size=*/2).stride(2)));
      spatial_ops.push_back({/*kernel=*/2, /*stride=*/2, /*padding=*/0});
      continue;
    }
    const int64_t out_channels = scale_width(entry, spec.width);
    features->push_back(nn::Conv2d(nn::Conv2dOptions(channels, out_channels, /*kernel_size=*/3).padding(1)));
    features->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
    spatial_ops.push_back({/*kernel=*/3, /*stride=*/1, /*padding=*/1});
    channels = out_channels;
  }
  const int64_t hidden = scale_width(4096, spec.width);
  nn::Sequential classifier(nn::Linear(channels * 7 * 7, hidden), nn::ReLU(nn::ReLUOptions().inplace(true)),
                            KeyedDropout(spec.dropout, 1), nn::Linear(hidden, hidden),
                            nn::ReLU(nn::ReLUOptions().inplace(true)), KeyedDropout(spec.dropout, 2),
                            nn::Linear(hidden, spec.num_classes));
  return ConvNet(features, nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({7, 7})), classifier,
                 std::move(spatial_ops));
}

}  // namespace hpa::models
