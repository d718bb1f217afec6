// Dispatch between the two model file kinds, and the TorchScript reader (kept in its own file
// because torch/script.h is the heaviest header of LibTorch).
#include "formats/model_file.hpp"

#include "common/error.hpp"

#include "formats/torch_archive.hpp"

#include <caffe2/serialize/inline_container.h>

namespace hpa::formats {

ModelFile read_model_file(const std::string& path) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> archive;
  bool is_torchscript = false;
  if (!is_legacy_torch_save(path)) {
    archive = open_torch_archive(path);
    // TorchScript archives carry their code and constants next to data.pkl.
    is_torchscript = archive->hasRecord("constants.pkl") || archive->hasRecord("code/__torch__.py");
  }
  ModelFile file;
  file.kind = is_torchscript ? ModelFileKind::torchscript : ModelFileKind::state_dict;
  file.tensors = is_torchscript ? read_torchscript_parameters(path, *archive) : read_state_dict(path);
  if (file.tensors.empty()) HPA_FAIL(path << ": holds no tensors");
  return file;
}

}  // namespace hpa::formats
