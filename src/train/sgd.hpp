// SGD with momentum and weight decay, with PyTorch's update rule (torch.optim.SGD, dampening 0,
// no Nesterov): d = g + wd * p; buf = momentum * buf + d; p -= lr * buf. Its momentum buffers are
// public so checkpoints can save and restore them exactly.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace hpa::train {

class Sgd {
 public:
  Sgd(std::vector<std::pair<std::string, at::Tensor>> params, double momentum, double weight_decay);
  void zero_grad();
  void step(double lr);
  // Buffers in parameter order, named as the parameters.
  const std::vector<std::pair<std::string, at::Tensor>>& momenta() const { return momenta_; }
  void load_momenta(const std::vector<std::pair<std::string, at::Tensor>>& momenta,
                    const std::string& source);

 private:
  std::vector<std::pair<std::string, at::Tensor>> params_;
  std::vector<std::pair<std::string, at::Tensor>> momenta_;
  double momentum_, weight_decay_;
};

}  // namespace hpa::train
