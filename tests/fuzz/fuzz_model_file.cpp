// read_model_file on arbitrary bytes: the zip container (LibTorch's reader), the state_dict pickle
// and its storages, the legacy (pre-1.6) torch.save format, and TorchScript archives.
#include "formats/model_file.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = hpa::fuzz::write_scratch("model.pt", data, size);
  return hpa::fuzz::guarded([&] {
    auto file = hpa::formats::read_model_file(path);
    for (auto& [name, tensor] : file.tensors) (void)tensor.sum();  // touch every element
  });
}
