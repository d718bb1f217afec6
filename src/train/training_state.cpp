// The training state and its placement; see training_state.hpp.
#include "train/training_state.hpp"

#include "common/error.hpp"
#include "models/parameters.hpp"

#include <torch/utils.h>

namespace hpa::train {

TrainingState::TrainingState(const models::ModelSpec& spec, models::InitScheme init, uint64_t seed,
                             const comm::Group& group, c10::Device device, const StateOptions& options)
    : device_(device) {
  model = models::make_model(spec, init, seed);
  {
    torch::NoGradGuard no_grad;  // MPI broadcasts CPU tensors: before the move (all ranks of the group)
    for (auto& param : model->parameters()) group.group_broadcast(param, /*root=*/0);
  }
  model->to(device_);
  model->set_numerics(options.numerics);  // before the buckets and momenta take the parameters' layout
  reducer = std::make_unique<comm::GradientReducer>(group, model->parameters(), options.reducer);
  sgd = std::make_unique<Sgd>(models::trainable_parameters(*model), options.momentum, options.weight_decay);
}

at::Tensor TrainingState::place(const at::Tensor& tensor) const { return tensor.to(device_, at::kFloat); }

void TrainingState::start_fresh() {
  init_params.clear();
  for (const auto& [name, tensor] : models::named_parameters(*model)) init_params.emplace_back(name, tensor.clone());
}

void TrainingState::load(const store::Checkpoint& checkpoint, const store::NamedTensors& init,
                         const std::string& source, const std::string& model_description) {
  models::load_parameters(*model, checkpoint.params, source, model_description);  // copies into place
  sgd->load_momenta(checkpoint.momenta, source);                                   // copies into place
  init_params.clear();
  for (const auto& [name, tensor] : init) init_params.emplace_back(name, place(tensor));
}

std::vector<std::pair<std::string, at::Tensor>> TrainingState::kept_tensors() {
  std::vector<std::pair<std::string, at::Tensor>> kept;
  for (const auto& [name, tensor] : models::named_parameters(*model)) kept.emplace_back("parameter " + name, tensor);
  for (const auto& [name, tensor] : init_params) kept.emplace_back("init " + name, tensor);
  for (const auto& [name, tensor] : sgd->momenta()) kept.emplace_back("momentum " + name, tensor);
  const std::vector<at::Tensor> buckets = reducer->bucket_buffers();
  for (size_t b = 0; b < buckets.size(); ++b) kept.emplace_back("gradient bucket " + std::to_string(b), buckets[b]);
  return kept;
}

}  // namespace hpa::train
