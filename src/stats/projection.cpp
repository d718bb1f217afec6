// Projection statistic kernels: one pass over each filter, accumulating sum and sum of squares in
// double, parallel over filters.
#include "stats/projection.hpp"

#include "common/error.hpp"
#include "common/text.hpp"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>

#include <cmath>
#include <limits>

namespace hpa::stats {
namespace {

template <typename T>
void cosines_kernel(const T* data, int64_t num_filters, int64_t filter_size, double* out) {
  const double inv_sqrt_d = 1.0 / std::sqrt(static_cast<double>(filter_size));
  at::parallel_for(0, num_filters, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
    for (int64_t f = begin; f < end; ++f) {
      const T* row = data + f * filter_size;
      // Independent accumulators break the add-latency chain so the loop runs at memory speed;
      // the order of the partial sums is fixed, so results do not depend on thread count.
      constexpr int64_t kLanes = 8;
      double sums[kLanes] = {}, squares[kLanes] = {};
      int64_t j = 0;
      for (; j + kLanes <= filter_size; j += kLanes) {
        for (int64_t lane = 0; lane < kLanes; ++lane) {
          const double value = static_cast<double>(row[j + lane]);
          sums[lane] += value;
          squares[lane] += value * value;
        }
      }
      for (int64_t lane = 0; j < filter_size; ++j, ++lane) {
        const double value = static_cast<double>(row[j]);
        sums[lane] += value;
        squares[lane] += value * value;
      }
      double sum = 0.0, sum_squares = 0.0;
      for (int64_t lane = 0; lane < kLanes; ++lane) {
        sum += sums[lane];
        sum_squares += squares[lane];
      }
      if (!std::isfinite(sum) || !std::isfinite(sum_squares))
        out[f] = std::numeric_limits<double>::quiet_NaN();  // a diverged filter has no direction
      else
        out[f] = sum_squares > 0.0 ? sum / std::sqrt(sum_squares) * inv_sqrt_d : 0.0;
    }
  });
}

}  // namespace

at::Tensor filter_cosines(const at::Tensor& weight) {
  HPA_REQUIRE(weight.dim() >= 2,
              "projection statistic needs a weight with at least 2 dimensions, got " << weight.dim());
  HPA_REQUIRE(weight.size(0) > 0 && weight.numel() > 0, "projection statistic of an empty weight");
  at::Tensor contiguous = weight.detach().to(at::kCPU).contiguous();
  if (contiguous.scalar_type() != at::kFloat && contiguous.scalar_type() != at::kDouble)
    contiguous = contiguous.to(at::kDouble);
  const int64_t num_filters = contiguous.size(0);
  const int64_t filter_size = contiguous.numel() / num_filters;
  at::Tensor cosines = at::empty({num_filters}, at::TensorOptions().dtype(at::kDouble));
  if (contiguous.scalar_type() == at::kFloat) {
    cosines_kernel(contiguous.data_ptr<float>(), num_filters, filter_size, cosines.data_ptr<double>());
  } else {
    cosines_kernel(contiguous.data_ptr<double>(), num_filters, filter_size, cosines.data_ptr<double>());
  }
  return cosines;
}

double neg_fraction(const at::Tensor& cosines) {
  HPA_REQUIRE(cosines.numel() > 0, "n_l of a layer without filters");
  const at::Tensor values = cosines.to(at::kDouble).contiguous();
  const double* data = values.data_ptr<double>();
  int64_t num_non_positive = 0;
  for (int64_t i = 0; i < values.numel(); ++i) {
    if (std::isnan(data[i])) return std::numeric_limits<double>::quiet_NaN();  // never counted as biased
    num_non_positive += data[i] <= 0.0 ? 1 : 0;
  }
  return static_cast<double>(num_non_positive) / static_cast<double>(values.numel());
}

double relative_l2_distance(const at::Tensor& weight, const at::Tensor& init_weight) {
  HPA_REQUIRE(weight.sizes() == init_weight.sizes(), "distance between tensors of different shapes");
  const at::Tensor current = weight.detach().to(at::kDouble), init = init_weight.detach().to(at::kDouble);
  const double init_norm = init.norm().item<double>();
  if (init_norm == 0.0) return std::numeric_limits<double>::quiet_NaN();
  return (current - init).norm().item<double>() / init_norm;
}

double relative_linf_distance(const at::Tensor& weight, const at::Tensor& init_weight) {
  HPA_REQUIRE(weight.sizes() == init_weight.sizes(), "distance between tensors of different shapes");
  const at::Tensor current = weight.detach().to(at::kDouble), init = init_weight.detach().to(at::kDouble);
  const double init_max = init.abs().max().item<double>();
  if (init_max == 0.0) return std::numeric_limits<double>::quiet_NaN();
  return (current - init).abs().max().item<double>() / init_max;
}

std::vector<LayerInfo> find_layers(const NamedTensors& params, bool with_linear) {
  std::vector<LayerInfo> convs, linears;
  for (const auto& [name, tensor] : params) {
    if (!ends_with(name, ".weight")) continue;
    LayerInfo info;
    info.weight_name = name;
    info.name = name.substr(0, name.size() - std::string(".weight").size());
    info.shape = tensor.sizes().vec();
    if (tensor.dim() == 4 && (tensor.size(2) > 1 || tensor.size(3) > 1)) {
      info.kind = LayerKind::conv;
      convs.push_back(std::move(info));
    } else if (with_linear && tensor.dim() == 2) {
      info.kind = LayerKind::linear;
      linears.push_back(std::move(info));
    }
  }
  std::vector<LayerInfo> layers = std::move(convs);
  layers.insert(layers.end(), linears.begin(), linears.end());
  for (size_t i = 0; i < layers.size(); ++i) layers[i].index = static_cast<int64_t>(i) + 1;
  return layers;
}

std::vector<LayerStats> compute_layer_stats(const NamedTensors& params, bool with_linear) {
  std::vector<LayerStats> result;
  for (LayerInfo& layer : find_layers(params, with_linear)) {
    const at::Tensor* weight = nullptr;
    for (const auto& [name, tensor] : params)
      if (name == layer.weight_name) weight = &tensor;
    LayerStats stats;
    stats.cosines = filter_cosines(*weight);
    stats.neg_fraction = neg_fraction(stats.cosines);
    stats.mean_cosine = stats.cosines.mean().item<double>();
    stats.layer = std::move(layer);
    result.push_back(std::move(stats));
  }
  return result;
}

std::string layer_kind_name(LayerKind kind) { return kind == LayerKind::conv ? "conv" : "linear"; }

}  // namespace hpa::stats
