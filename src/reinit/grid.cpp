// Fused and naive evaluation of layer variants.
#include "reinit/grid.hpp"

#include "common/error.hpp"
#include "common/torch_compat.hpp"
#include "models/keyed_dropout.hpp"

#include <ATen/Functions.h>
#include <torch/nn/modules/conv.h>
#include <torch/utils.h>

#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <optional>

namespace hpa::reinit {
namespace {

// Calls fn(batch) for consecutive test batches covering the set once.
template <typename Fn>
void for_each_batch(const data::SampleSet& test, const EvalSettings& settings,
                    const std::function<void()>& service, Fn fn) {
  const int64_t total = test.size(), batch_size = settings.batch_size;
  data::BatchLoader loader(
      test, (total + batch_size - 1) / batch_size,
      [&](int64_t b) {
        data::BatchPlan plan;
        plan.positions.resize(static_cast<size_t>(std::min(batch_size, total - b * batch_size)));
        std::iota(plan.positions.begin(), plan.positions.end(), b * batch_size);
        plan.global_size = static_cast<int64_t>(plan.positions.size());
        return plan;
      },
      /*epoch=*/0, settings.loader);
  data::Batch batch;
  while (loader.next(batch)) {
    if (settings.device != c10::kCPU) {
      batch.images = batch.images.to(settings.device, /*non_blocking=*/true);
      batch.labels = batch.labels.to(settings.device, /*non_blocking=*/true);
    }
    fn(batch);
    service();
  }
}

// Floating-point operations of one forward pass of `module` producing `output` (convolutions
// and linear layers; everything else counted as one operation per output element).
double module_flops(torch::nn::Module& module, const at::Tensor& output) {
  if (auto* conv = module.as<torch::nn::Conv2dImpl>()) {
    const at::Tensor& w = conv->weight;
    return 2.0 * static_cast<double>(output.numel()) * static_cast<double>(w.size(1) * w.size(2) * w.size(3));
  }
  if (auto* linear = module.as<torch::nn::LinearImpl>())
    return 2.0 * static_cast<double>(output.numel()) * static_cast<double>(linear->weight.size(1));
  return static_cast<double>(output.numel());
}

// Per-feature FLOPs of one image, and the head's; also the widest activation (elements).
struct Probe {
  std::vector<double> features;
  double head = 0;         // the model's own head
  double folded_head = 0;  // EvalHead's (the same where nothing folds)
  int64_t widest = 0;
};

Probe probe(models::ConvNetImpl& model, const std::vector<int64_t>& shape) {
  torch::NoGradGuard no_grad;
  model.eval();
  Probe result;
  at::Tensor x = at::zeros({1, shape[0], shape[1], shape[2]});
  for (int64_t i = 0; i < model.num_features(); ++i) {
    const at::Tensor y = model.forward_features(x, i, i + 1);
    result.features.push_back(module_flops(*model.features[static_cast<size_t>(i)], y));
    result.widest = std::max(result.widest, x.numel() + y.numel());
    x = y;
  }
  const at::Tensor h = model.avgpool->forward(x).flatten(1);
  result.head += static_cast<double>(h.numel());
  const at::Tensor logits = model.forward_head(x);
  // The classifier's linear layers dominate the head: 2 x in x out each.
  for (const auto& child : model.classifier->children())
    if (auto* linear = child->as<torch::nn::LinearImpl>())
      result.head += 2.0 * static_cast<double>(linear->weight.numel());
  result.widest = std::max(result.widest, h.numel() + logits.numel());
  result.folded_head = result.head;
  if (EvalHead(model, std::vector<int64_t>{x.size(1), x.size(2), x.size(3)}).folded()) {
    for (const auto& child : model.classifier->children())
      if (auto* linear = child->as<torch::nn::LinearImpl>()) {  // the first one is folded
        result.folded_head += 2.0 * static_cast<double>(linear->weight.size(0)) * static_cast<double>(x.numel()) -
                              2.0 * static_cast<double>(linear->weight.numel()) - static_cast<double>(h.numel());
        break;
      }
  }
  return result;
}

torch::nn::Conv2dImpl& conv_at(models::ConvNetImpl& model, int64_t index) {
  auto* conv = model.features[static_cast<size_t>(index)]->as<torch::nn::Conv2dImpl>();
  HPA_REQUIRE(conv, "features." << index << " is not a convolution");
  return *conv;
}

}  // namespace

CostModel estimate_costs(models::ConvNetImpl& model, const std::vector<int64_t>& layer_features,
                         const std::vector<int64_t>& shape, bool naive) {
  const Probe p = probe(model, shape);
  CostModel costs;
  costs.naive = naive;
  costs.activation_bytes = p.widest * static_cast<int64_t>(sizeof(float));
  costs.full = p.head;
  for (double f : p.features) costs.full += f;
  for (int64_t index : layer_features) {
    LayerCost layer;
    for (int64_t i = 0; i < index; ++i) layer.prefix += p.features[static_cast<size_t>(i)];
    layer.suffix = costs.full - layer.prefix - p.head + p.folded_head;  // fused cells end in EvalHead
    costs.layers.push_back(layer);
  }
  return costs;
}

CostModel measure_costs(models::ConvNetImpl& model, const std::vector<int64_t>& layer_features,
                        const data::SampleSet& test, const EvalSettings& settings, int64_t images, int repeats,
                        bool naive) {
  torch::NoGradGuard no_grad;
  const models::AutocastScope autocast(settings.device.type(), settings.precision);
  model.eval();
  const int64_t sample = std::min<int64_t>(settings.batch_size, test.size());
  at::Tensor batch;
  // One batch of `sample` test images, read and decoded as evaluation does.
  const auto load_batch = [&] {
    data::BatchLoader loader(
        test, 1,
        [&](int64_t) {
          data::BatchPlan plan;
          plan.positions.resize(static_cast<size_t>(sample));
          std::iota(plan.positions.begin(), plan.positions.end(), 0);
          plan.global_size = sample;
          return plan;
        },
        0, settings.loader);
    data::Batch b;
    HPA_REQUIRE(loader.next(b), "measuring the grid's costs: the test set is empty");
    batch = b.images.to(settings.device);
  };
  const double scale = static_cast<double>(images) / static_cast<double>(sample);
  const auto median_seconds = [&](const std::function<void()>& fn) {
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      fn();
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2] * scale;
  };
  CostModel costs;
  costs.naive = naive;
  costs.input = median_seconds(load_batch);
  const int64_t end = model.num_features();
  costs.full = median_seconds([&] { model.forward(batch).sum().item<float>(); });
  for (int64_t index : layer_features) {
    LayerCost layer;
    at::Tensor prefix;
    layer.prefix = median_seconds([&] { prefix = model.forward_features(batch, 0, index); prefix.sum().item<float>(); });
    at::Tensor features = model.forward_features(prefix, index, end);
    const EvalHead head(model, std::vector<int64_t>{features.size(1), features.size(2), features.size(3)});
    layer.suffix = median_seconds([&] { head.forward(model.forward_features(prefix, index, end)).sum().item<float>(); });
    costs.layers.push_back(layer);
  }
  return costs;
}

EvalHead::EvalHead(models::ConvNetImpl& model, const std::vector<int64_t>& features) : model_(model) {
  torch::NoGradGuard no_grad;
  // The first linear layer, behind nothing but dropout (the identity in evaluation).
  const auto children = model.classifier->children();
  torch::nn::LinearImpl* first = nullptr;
  for (size_t i = 0; i < children.size() && !first; ++i) {
    first = children[i]->as<torch::nn::LinearImpl>();
    if (first) {
      after_ = static_cast<int64_t>(i) + 1;
    } else if (!children[i]->as<models::KeyedDropoutImpl>()) {
      return;
    }
  }
  if (!first) return;
  const at::Tensor probe = at::zeros({1, features[0], features[1], features[2]}, first->weight.options());
  const at::Tensor pooled = model.avgpool->forward(probe);
  const int64_t in_area = features[1] * features[2], out_area = pooled.size(2) * pooled.size(3);
  if (in_area >= out_area || first->weight.size(1) != pooled.numel()) return;  // no gain
  // avgpool is linear: W1 . pool = (pool^T . W1^T)^T, and pool^T is the pool's backward.
  const int64_t outputs = first->weight.size(0);
  const at::Tensor spread = first->weight.view({outputs, features[0], pooled.size(2), pooled.size(3)});
  weight_ = at::_adaptive_avg_pool2d_backward(spread, at::empty({outputs, features[0], features[1], features[2]},
                                                                spread.options()))
                .reshape({outputs, features[0] * in_area})
                .contiguous();
  bias_ = first->bias.defined() ? first->bias.detach() : at::Tensor();
}

at::Tensor EvalHead::forward(const at::Tensor& x) const {
  if (!folded()) return model_.forward_head(x);
  HPA_INTERNAL_CHECK(!model_.is_training(), "the folded head drops dropout: evaluation only");
  at::Tensor y = at::linear(x.flatten(1), weight_, bias_);
  for (auto it = model_.classifier->begin() + after_; it != model_.classifier->end(); ++it) y = it->forward(y);
  return y;
}

int64_t feature_index(const std::string& layer_name) {
  const std::string prefix = "features.";
  HPA_REQUIRE(layer_name.rfind(prefix, 0) == 0 && layer_name.size() > prefix.size() &&
                  layer_name.find_first_not_of("0123456789", prefix.size()) == std::string::npos,
              "layer " << layer_name << " is not a features.K convolution");
  return std::stoll(layer_name.substr(prefix.size()));
}

int64_t count_correct(models::ConvNetImpl& model, const data::SampleSet& test, const EvalSettings& settings,
                      const std::function<void()>& service) {
  torch::NoGradGuard no_grad;
  const models::AutocastScope autocast(settings.device.type(), settings.precision);
  model.eval();
  int64_t correct = 0;
  for_each_batch(test, settings, service, [&](const data::Batch& batch) {
    correct += model.forward(batch.images).argmax(1).eq(batch.labels).sum().item<int64_t>();
  });
  return correct;
}

std::vector<int64_t> count_correct_fused(models::ConvNetImpl& model, const std::string& layer_name,
                                         const std::vector<Variant>& variants, const data::SampleSet& test,
                                         const EvalSettings& settings, const std::function<void()>& service) {
  torch::NoGradGuard no_grad;
  const models::AutocastScope autocast(settings.device.type(), settings.precision);
  model.eval();
  const int64_t index = feature_index(layer_name);
  const auto& options = conv_at(model, index).options;
  const auto* padding = torch_compat::get_if<torch::ExpandingArray<2>>(&options.padding());
  HPA_REQUIRE(padding, layer_name << ": string padding modes are not supported");
  const int64_t num_variants = static_cast<int64_t>(variants.size());
  const int64_t per_chunk = std::max<int64_t>(1, settings.stack_limit / settings.batch_size);
  std::vector<int64_t> correct(variants.size(), 0);
  std::optional<EvalHead> head;  // folded once the feature map's size is known
  for_each_batch(test, settings, service, [&](const data::Batch& batch) {
    const at::Tensor prefix = model.forward_features(batch.images, 0, index);  // once for every variant
    for (int64_t first = 0; first < num_variants; first += per_chunk) {
      const int64_t count = std::min(per_chunk, num_variants - first);
      std::vector<at::Tensor> outputs;
      for (int64_t v = first; v < first + count; ++v) {
        const Variant& variant = variants[static_cast<size_t>(v)];
        outputs.push_back(at::conv2d(prefix, variant.weight, variant.bias, *options.stride(), **padding,
                                     *options.dilation(), options.groups()));
      }
      const at::Tensor stacked = at::cat(outputs, /*dim=*/0);
      const at::Tensor features = model.forward_features(stacked, index + 1, model.num_features());
      if (!head) head.emplace(model, std::vector<int64_t>{features.size(1), features.size(2), features.size(3)});
      const at::Tensor logits = head->forward(features);
      const at::Tensor hits = logits.argmax(1).view({count, -1}).eq(batch.labels.unsqueeze(0)).sum(1);
      for (int64_t v = 0; v < count; ++v) correct[static_cast<size_t>(first + v)] += hits[v].item<int64_t>();
    }
  });
  return correct;
}

std::vector<int64_t> count_correct_naive(models::ConvNetImpl& model, const std::string& layer_name,
                                         const std::vector<Variant>& variants, const data::SampleSet& test,
                                         const EvalSettings& settings, const std::function<void()>& service) {
  torch::NoGradGuard no_grad;
  torch::nn::Conv2dImpl& conv = conv_at(model, feature_index(layer_name));
  const at::Tensor final_weight = conv.weight.detach().clone();
  const at::Tensor final_bias = conv.bias.defined() ? conv.bias.detach().clone() : at::Tensor();
  std::vector<int64_t> correct;
  for (const Variant& variant : variants) {
    conv.weight.copy_(variant.weight);
    if (final_bias.defined()) conv.bias.copy_(variant.bias);
    correct.push_back(count_correct(model, test, settings, service));
  }
  conv.weight.copy_(final_weight);
  if (final_bias.defined()) conv.bias.copy_(final_bias);
  return correct;
}

}  // namespace hpa::reinit
