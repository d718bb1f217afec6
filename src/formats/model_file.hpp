// Reads the parameters of a model file researchers download or save: a PyTorch state_dict written
// by torch.save (zip container, data.pkl + data/<key> storages), or a TorchScript archive.
// Returns named tensors in file order; knows nothing about architectures.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace hpa::formats {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

enum class ModelFileKind { state_dict, torchscript };

struct ModelFile {
  ModelFileKind kind = ModelFileKind::state_dict;
  NamedTensors tensors;  // parameters (and, for state_dicts, buffers) in file order, on the CPU
};

// Throws hpa::Error naming `path` when it is missing, not a zip archive, truncated, not a
// state_dict (e.g. a whole pickled model), or holds objects outside the supported subset.
ModelFile read_model_file(const std::string& path);

// The state_dict part alone, for a zip archive already known not to be TorchScript.
NamedTensors read_state_dict(const std::string& path);

}  // namespace hpa::formats
