// ConvNet's forward pass and input-size arithmetic.
#include "models/convnet.hpp"

#include "common/error.hpp"
#include "models/keyed_dropout.hpp"

#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>

namespace hpa::models {

ConvNetImpl::ConvNetImpl(torch::nn::Sequential features_in, torch::nn::AdaptiveAvgPool2d avgpool_in,
                         torch::nn::Sequential classifier_in, std::vector<SpatialOp> spatial_ops)
    : features(register_module("features", std::move(features_in))),
      avgpool(register_module("avgpool", std::move(avgpool_in))),
      classifier(register_module("classifier", std::move(classifier_in))),
      spatial_ops_(std::move(spatial_ops)) {}

torch::Tensor ConvNetImpl::forward(torch::Tensor x) {
  if (numerics_.memory_format == MemoryFormat::channels_last && x.dim() == 4)
    x = x.contiguous(at::MemoryFormat::ChannelsLast);
  const AutocastScope autocast(x.device().type(), numerics_.precision);
  x = features->forward(x);
  x = avgpool->forward(x);
  x = x.flatten(/*start_dim=*/1);  // a copy in NCHW order where x is channels-last
  return classifier->forward(x).to(at::kFloat);
}

void ConvNetImpl::set_numerics(const Numerics& numerics) {
  numerics_ = numerics;
  const at::MemoryFormat format = numerics.memory_format == MemoryFormat::channels_last
                                      ? at::MemoryFormat::ChannelsLast
                                      : at::MemoryFormat::Contiguous;
  torch::NoGradGuard no_grad;
  for (auto& param : parameters())
    if (param.dim() == 4 && !param.is_contiguous(format)) param.set_data(param.data().contiguous(format));
}

torch::Tensor ConvNetImpl::forward_features(torch::Tensor x, int64_t first, int64_t last) {
  HPA_INTERNAL_CHECK(0 <= first && first <= last && last <= num_features(),
                     "feature range " << first << ".." << last);
  for (auto it = features->begin() + first; it != features->begin() + last; ++it) x = it->forward(x);
  return x;
}

torch::Tensor ConvNetImpl::forward_head(torch::Tensor x) {
  x = avgpool->forward(x);
  x = x.flatten(/*start_dim=*/1);
  return classifier->forward(x);
}

void ConvNetImpl::set_dropout_keys(const std::vector<uint64_t>& keys) {
  for (const auto& child : classifier->children())
    if (auto* dropout = child->as<KeyedDropoutImpl>()) dropout->set_keys(keys);
}

int64_t ConvNetImpl::num_features() const { return static_cast<int64_t>(features->size()); }

int64_t ConvNetImpl::feature_map_size(int64_t input_size) const {
  int64_t size = input_size;
  for (const SpatialOp& op : spatial_ops_) {
    const int64_t padded = size + 2 * op.padding;
    if (padded < op.kernel) return 0;
    size = (padded - op.kernel) / op.stride + 1;
  }
  return size;
}

void ConvNetImpl::check_input_size(int64_t height, int64_t width) const {
  if (feature_map_size(height) > 0 && feature_map_size(width) > 0) return;
  int64_t smallest = 1;
  while (feature_map_size(smallest) <= 0) ++smallest;
  HPA_FAIL("input of " << height << "x" << width << " pixels is too small for this architecture: "
                       << "it needs at least " << smallest << "x" << smallest
                       << " (upscale or pad the images)");
}

int64_t scale_width(int64_t channels, double width) {
  return std::max<int64_t>(1, std::llround(static_cast<double>(channels) * width));
}

}  // namespace hpa::models
