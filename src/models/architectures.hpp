// The catalogue of architectures and init schemes: names, parsing, and the factory that builds and
// initializes a model. The per-architecture layouts live in vgg.cpp, alexnet.cpp and lenet.cpp.
#pragma once

#include "models/convnet.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hpa::models {

enum class Arch { vgg11, vgg13, vgg16, vgg19, vgg19_orig, alexnet, lenet };

// paper: Kaiming normal (fan_out, ReLU) for every conv and linear weight, zero biases (section 3.1).
// torchvision: each architecture's torchvision init (VGG: Kaiming fan_out convs, N(0, 0.01)
//   linears; AlexNet: PyTorch's default Kaiming-uniform a=sqrt(5) with uniform biases; LeNet:
//   Xavier-uniform with ReLU gain).
// normal-0.01: N(0, 0.01) for every weight, zero biases (vgg19_orig, the init that fails on ImageNet).
enum class InitScheme { paper, torchvision, normal_001 };

struct ModelSpec {
  Arch arch = Arch::lenet;
  int64_t in_channels = 3;
  int64_t num_classes = 1000;
  double width = 1.0;    // multiplies every conv and hidden linear width (tests use < 1)
  double dropout = 0.5;  // probability of the classifier's dropout layers (0 disables them)
};

Arch parse_arch(const std::string& name);  // throws hpa::Error listing the valid names
std::string arch_name(Arch arch);
std::vector<std::string> arch_names();
InitScheme parse_init_scheme(const std::string& name);
std::string init_scheme_name(InitScheme scheme);
InitScheme default_init_scheme(Arch arch);  // torchvision, except vgg19_orig (normal-0.01)

// Builds the layout only (LibTorch's default parameter values).
ConvNet build_model(const ModelSpec& spec);
// Re-draws every conv and linear parameter from `scheme`, using torch's default generator.
void initialize_model(ConvNetImpl& model, Arch arch, InitScheme scheme);
// A fresh draw of conv module `module_name`'s weight and bias from `scheme` (seeded by `seed`):
// the re-randomization of the layer re-initialization test.
std::pair<torch::Tensor, torch::Tensor> draw_conv_init(ConvNetImpl& model, const std::string& module_name,
                                                       Arch arch, InitScheme scheme, uint64_t seed);
// Seeds torch's default generator with `seed`, builds and initializes: same seed, same weights.
ConvNet make_model(const ModelSpec& spec, InitScheme scheme, uint64_t seed);

// Layout builders, one per file.
ConvNet build_vgg(int depth, const ModelSpec& spec);
ConvNet build_alexnet(const ModelSpec& spec);
ConvNet build_lenet(const ModelSpec& spec);

}  // namespace hpa::models
