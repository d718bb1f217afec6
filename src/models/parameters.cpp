// Parameter transfer and shape checks.
#include "models/parameters.hpp"

#include "common/error.hpp"

#include <torch/utils.h>

#include <map>

namespace hpa::models {

NamedTensors named_parameters(ConvNetImpl& model) {
  NamedTensors result;
  for (const auto& item : model.named_parameters(/*recurse=*/true))
    result.emplace_back(item.key(), item.value().detach());
  return result;
}

NamedTensors trainable_parameters(ConvNetImpl& model) {
  NamedTensors result;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) result.emplace_back(item.key(), item.value());
  return result;
}

void check_parameters_fit(ConvNetImpl& model, const NamedTensors& tensors, const std::string& source,
                          const std::string& model_description) {
  std::map<std::string, const torch::Tensor*> by_name;
  for (const auto& [name, tensor] : tensors) by_name[name] = &tensor;
  const auto parameters = model.named_parameters(/*recurse=*/true);
  for (const auto& item : parameters) {
    auto found = by_name.find(item.key());
    if (found == by_name.end())
      HPA_FAIL(source << ": parameter " << item.key() << " is missing, but " << model_description
                      << " has it");
    if (found->second->sizes() != item.value().sizes())
      HPA_FAIL(source << ": parameter " << item.key() << " has shape " << found->second->sizes() << ", but "
                      << model_description << " expects " << item.value().sizes());
  }
  for (const auto& [name, tensor] : tensors) {
    const bool is_parameter_like = name.size() > 7 && (name.rfind(".weight") == name.size() - 7 ||
                                                       name.rfind(".bias") == name.size() - 5);
    if (is_parameter_like && !parameters.contains(name))
      HPA_FAIL(source << ": parameter " << name << " does not exist in " << model_description);
  }
}

void load_parameters(ConvNetImpl& model, const NamedTensors& tensors, const std::string& source,
                     const std::string& model_description) {
  check_parameters_fit(model, tensors, source, model_description);
  torch::NoGradGuard no_grad;
  auto parameters = model.named_parameters(/*recurse=*/true);
  for (const auto& [name, tensor] : tensors)
    if (parameters.contains(name)) parameters[name].copy_(tensor);
}

}  // namespace hpa::models
