// SGD update.
#include "train/sgd.hpp"

#include "common/error.hpp"

#include <ATen/Functions.h>
#include <torch/utils.h>

#include <map>

namespace hpa::train {

Sgd::Sgd(std::vector<std::pair<std::string, at::Tensor>> params, double momentum, double weight_decay)
    : params_(std::move(params)), momentum_(momentum), weight_decay_(weight_decay) {
  for (const auto& [name, param] : params_) momenta_.emplace_back(name, at::zeros_like(param));
}

void Sgd::zero_grad() {
  for (auto& [name, param] : params_)
    if (param.mutable_grad().defined()) param.mutable_grad().zero_();
}

void Sgd::step(double lr) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& param = params_[i].second;
    const at::Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    at::Tensor direction = weight_decay_ != 0.0 ? grad.add(param, weight_decay_) : grad;
    // A zero buffer times momentum plus d is exactly d: PyTorch's first-step clone, bit for bit.
    at::Tensor& buffer = momenta_[i].second;
    buffer.mul_(momentum_).add_(direction);
    param.add_(buffer, -lr);
  }
}

void Sgd::load_momenta(const std::vector<std::pair<std::string, at::Tensor>>& momenta,
                       const std::string& source) {
  std::map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, tensor] : momenta) by_name[name] = &tensor;
  for (auto& [name, buffer] : momenta_) {
    auto found = by_name.find(name);
    if (found == by_name.end()) HPA_FAIL(source << ": momentum of " << name << " is missing");
    if (found->second->sizes() != buffer.sizes())
      HPA_FAIL(source << ": momentum of " << name << " has the wrong shape");
    buffer.copy_(*found->second);
  }
}

}  // namespace hpa::train
