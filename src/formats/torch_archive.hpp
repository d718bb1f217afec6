// Opening a torch.save / TorchScript zip container with LibTorch's own stream reader, with errors
// that name the file. Internal to the formats folder.
#pragma once

#include "formats/model_file.hpp"

#include <memory>
#include <string>

namespace caffe2::serialize {
class PyTorchStreamReader;
}

namespace hpa::formats {

// The TorchScript part of read_model_file: named parameters of a torch::jit::load-ed module.
// `archive` is `path` already opened by open_torch_archive; its pickles are screened before
// LibTorch loads the file.
NamedTensors read_torchscript_parameters(const std::string& path, caffe2::serialize::PyTorchStreamReader& archive);
// Opens the archive after check_zip_records.
std::unique_ptr<caffe2::serialize::PyTorchStreamReader> open_torch_archive(const std::string& path);
// Refuses an archive, naming the file, whose central directory is damaged or claims a record larger
// than the file can hold (stored) or inflate to (deflated): LibTorch's reader allocates every
// claimed size before reading. Then reads every record once and refuses one whose CRC-32 or size
// does not match the directory: LibTorch checks neither.
void check_zip_records(const std::string& path);
// True when `path` starts with the magic number of the legacy (pre-1.6, non-zip) torch.save format.
bool is_legacy_torch_save(const std::string& path);

}  // namespace hpa::formats
