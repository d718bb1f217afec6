// Moving parameters between a model and named tensors (torchvision names), with shape checks
// whose errors name the parameter. No file formats here: callers bring the tensors.
#pragma once

#include "models/convnet.hpp"

#include <string>
#include <utility>
#include <vector>

namespace hpa::models {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Every parameter of `model`, in module order, detached (sharing storage with the model).
NamedTensors named_parameters(ConvNetImpl& model);
// The same parameters themselves, not detached: what the optimizer updates (their .grad is set).
NamedTensors trainable_parameters(ConvNetImpl& model);

// Checks that `tensors` holds every parameter of `model` with the same shape, and no extra
// parameter-like entry; throws hpa::Error "SOURCE: parameter P has shape A, but MODEL expects B".
void check_parameters_fit(ConvNetImpl& model, const NamedTensors& tensors, const std::string& source,
                          const std::string& model_description);

// check_parameters_fit, then copies the values into the model.
void load_parameters(ConvNetImpl& model, const NamedTensors& tensors, const std::string& source,
                     const std::string& model_description);

}  // namespace hpa::models
