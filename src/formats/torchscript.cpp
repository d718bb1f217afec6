// TorchScript archives through torch::jit::load; parameters by their dotted module names.
#include "common/error.hpp"
#include "formats/model_file.hpp"

#include <torch/script.h>

namespace hpa::formats {

NamedTensors read_torchscript_parameters(const std::string& path) {
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error& error) {
    const std::string message = error.what_without_backtrace();
    HPA_FAIL(path << ": not a loadable TorchScript archive: " << message.substr(0, message.find('\n')));
  } catch (const torch::jit::ErrorReport&) {
    // The TorchScript compiler's own errors are not c10::Errors, and their what() must not be
    // called: on a damaged archive it looks up a source range that does not exist and throws from
    // a noexcept function (std::terminate in LibTorch 1.13; found by fuzzing).
    HPA_FAIL(path << ": not a loadable TorchScript archive: its code does not compile");
  } catch (const std::exception& error) {
    const std::string message = error.what();
    HPA_FAIL(path << ": not a loadable TorchScript archive: " << message.substr(0, message.find('\n')));
  }
  NamedTensors tensors;
  for (const auto& parameter : module.named_parameters(/*recurse=*/true))
    tensors.emplace_back(parameter.name, parameter.value.detach());
  return tensors;
}

}  // namespace hpa::formats
