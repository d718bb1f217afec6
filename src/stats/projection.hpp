// The projection statistic of Gamba et al. (2020), section 2.3: per filter, the cosine between its
// flattened weights and the all-ones vector; per layer, the fraction n_l of filters with cosine <= 0;
// plus the relative distance of a layer from its initialization. Biases are never used.
// Works on plain tensors: where the tensors come from (model, file, run directory) is not its business.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hpa::stats {

// Cosines c_i = sum(W[i]) / (||W[i]||_2 * sqrt(d)) for every row i of `weight` flattened to [F, d]:
// conv [F, C, k, k] or linear [F, in]. Float64 [F]. Sums run in double whatever the input dtype.
// A filter that is exactly zero has no direction; its cosine is defined as 0 (so it counts as <= 0).
// A filter with a non-finite weight (a diverged layer) has cosine NaN.
at::Tensor filter_cosines(const at::Tensor& weight);

// n_l = #{i : c_i <= 0} / F. An exact zero counts as negative, as in equation (2) of the paper.
// NaN when any c_i is NaN: a diverged layer is never counted as biased.
double neg_fraction(const at::Tensor& cosines);

// ||W - W0||_2 / ||W0||_2 and max|W - W0| / max|W0|, in double; NaN when W0 is all zeros.
double relative_l2_distance(const at::Tensor& weight, const at::Tensor& init_weight);
double relative_linf_distance(const at::Tensor& weight, const at::Tensor& init_weight);

enum class LayerKind { conv, linear };

// One layer the statistic applies to, found from parameter names and shapes alone.
struct LayerInfo {
  int64_t index = 0;        // 1-based, convolutions first in model order (as in the paper), then linears
  std::string name;         // module path, e.g. "features.0"
  std::string weight_name;  // parameter name, e.g. "features.0.weight"
  LayerKind kind = LayerKind::conv;
  std::vector<int64_t> shape;  // of the weight
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// The layers of a model given its parameters in model order: every 4-D `*.weight` with a kernel
// larger than 1x1 is a convolution (1x1 convolutions are skipped, as in the paper); with
// `with_linear`, every 2-D `*.weight` is a linear layer.
std::vector<LayerInfo> find_layers(const NamedTensors& params, bool with_linear);

struct LayerStats {
  LayerInfo layer;
  at::Tensor cosines;  // float64 [F]
  double neg_fraction = 0;
  double mean_cosine = 0;
};

std::vector<LayerStats> compute_layer_stats(const NamedTensors& params, bool with_linear);

std::string layer_kind_name(LayerKind kind);

}  // namespace hpa::stats
