// AlexNet laid out exactly as torchvision.models.alexnet (the one-GPU variant of the original).
#include "models/architectures.hpp"
#include "models/keyed_dropout.hpp"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

namespace hpa::models {

ConvNet build_alexnet(const ModelSpec& spec) {
  namespace nn = torch::nn;
  const auto conv = [](int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
  };
  const auto relu = [] { return nn::ReLU(nn::ReLUOptions().inplace(true)); };
  const auto pool = [] { return nn::MaxPool2d(nn::MaxPool2dOptions(/*kernel_size=*/3).stride(2)); };
  const int64_t c1 = scale_width(64, spec.width), c2 = scale_width(192, spec.width),
                c3 = scale_width(384, spec.width), c4 = scale_width(256, spec.width),
                c5 = scale_width(256, spec.width), hidden = scale_width(4096, spec.width);

  nn::Sequential features(conv(spec.in_channels, c1, 11, 4, 2), relu(), pool(),  //
                          conv(c1, c2, 5, 1, 2), relu(), pool(),                 //
                          conv(c2, c3, 3, 1, 1), relu(),                         //
                          conv(c3, c4, 3, 1, 1), relu(),                         //
                          conv(c4, c5, 3, 1, 1), relu(), pool());
  std::vector<SpatialOp> spatial_ops = {{11, 4, 2}, {3, 2, 0}, {5, 1, 2}, {3, 2, 0},
                                        {3, 1, 1},  {3, 1, 1}, {3, 1, 1}, {3, 2, 0}};
  nn::Sequential classifier(KeyedDropout(spec.dropout, 1), nn::Linear(c5 * 6 * 6, hidden), relu(),  //
                            KeyedDropout(spec.dropout, 2), nn::Linear(hidden, hidden), relu(),
                            nn::Linear(hidden, spec.num_classes));
  return ConvNet(features, nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({6, 6})), classifier,
                 std::move(spatial_ops));
}

}  // namespace hpa::models
