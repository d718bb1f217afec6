// TorchScript archives through torch::jit::load; parameters by their dotted module names.
#include "common/error.hpp"
#include "common/text.hpp"
#include "formats/model_file.hpp"
#include "formats/pickle.hpp"
#include "formats/torch_archive.hpp"

#include <caffe2/serialize/inline_container.h>
#include <torch/script.h>

namespace hpa::formats {
namespace {

// One line naming the file. LibTorch's messages span lines; a compiler error's first line ends in
// "here:" before the quoted source, which the one-line form drops.
[[noreturn]] void refuse(const std::string& path, const std::string& message) {
  std::string line = first_line(message);
  const std::string here = " here:";
  if (ends_with(line, here)) line = "its code does not compile: " + line.substr(0, line.size() - here.size());
  HPA_FAIL(path << ": not a loadable TorchScript archive: " << line);
}

// LibTorch 1.13's unpickler reserves the length a string opcode claims before it reads the bytes,
// so a damaged archive makes torch::jit::load allocate up to 4 GiB (found by fuzzing: 1.87 GB from
// a debug_pkl record). Every pickle of the archive first goes through hpa's own reader, which
// checks each claim against the bytes that are there; what it refuses never reaches LibTorch.
void screen_pickles(const std::string& path, caffe2::serialize::PyTorchStreamReader& archive) {
  PickleCallbacks accept_all;  // screening only: every global and persistent id is opaque here
  accept_all.reduce = [](const std::string&, const PickleValue&) {
    return PickleValue::make(PickleValue::Kind::opaque);
  };
  accept_all.persistent_load = [](const PickleValue&) { return PickleValue::make(PickleValue::Kind::opaque); };
  try {
    for (const std::string& name : archive.getAllRecords()) {
      if (!ends_with(name, ".pkl") && !ends_with(name, ".debug_pkl")) continue;
      auto [data, size] = archive.getRecord(name);
      unpickle(name, static_cast<const uint8_t*>(data.get()), size, accept_all);
    }
  } catch (const c10::Error& error) {
    refuse(path, error.what_without_backtrace());
  } catch (const Error& error) {
    refuse(path, error.what());
  }
}

}  // namespace

NamedTensors read_torchscript_parameters(const std::string& path,
                                        caffe2::serialize::PyTorchStreamReader& archive) {
  screen_pickles(path, archive);
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error& error) {
    refuse(path, error.what_without_backtrace());
  } catch (const torch::jit::ErrorReport&) {
    // The TorchScript compiler's own errors are not c10::Errors, and their what() must not be
    // called: on a damaged archive it looks up a source range that does not exist and throws from
    // a noexcept function (std::terminate in LibTorch 1.13; found by fuzzing).
    HPA_FAIL(path << ": not a loadable TorchScript archive: its code does not compile");
  } catch (const std::exception& error) {
    refuse(path, error.what());
  }
  NamedTensors tensors;
  for (const auto& parameter : module.named_parameters(/*recurse=*/true))
    tensors.emplace_back(parameter.name, parameter.value.detach());
  return tensors;
}

}  // namespace hpa::formats
