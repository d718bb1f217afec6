// Architecture and init-scheme names, the model factory and the init schemes.
#include "models/architectures.hpp"

#include "common/error.hpp"

#include <torch/nn/init.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include <cmath>
#include <functional>
#include <sstream>

namespace hpa::models {
namespace {

struct ArchName {
  Arch arch;
  const char* name;
};
constexpr ArchName kArchNames[] = {
    {Arch::vgg11, "vgg11"}, {Arch::vgg13, "vgg13"},           {Arch::vgg16, "vgg16"},
    {Arch::vgg19, "vgg19"}, {Arch::vgg19_orig, "vgg19_orig"}, {Arch::alexnet, "alexnet"},
    {Arch::lenet, "lenet"},
};

struct InitName {
  InitScheme scheme;
  const char* name;
};
constexpr InitName kInitNames[] = {
    {InitScheme::paper, "paper"},
    {InitScheme::torchvision, "torchvision"},
    {InitScheme::normal_001, "normal-0.01"},
};

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

Arch parse_arch(const std::string& name) {
  for (const ArchName& entry : kArchNames)
    if (name == entry.name) return entry.arch;
  HPA_FAIL("unknown architecture '" << name << "' (known: " << join_names(arch_names()) << ")");
}

std::string arch_name(Arch arch) {
  for (const ArchName& entry : kArchNames)
    if (arch == entry.arch) return entry.name;
  HPA_INTERNAL_CHECK(false, "architecture without a name");
}

std::vector<std::string> arch_names() {
  std::vector<std::string> names;
  for (const ArchName& entry : kArchNames) names.emplace_back(entry.name);
  return names;
}

InitScheme parse_init_scheme(const std::string& name) {
  for (const InitName& entry : kInitNames)
    if (name == entry.name) return entry.scheme;
  HPA_FAIL("unknown init scheme '" << name << "' (known: paper, torchvision, normal-0.01)");
}

std::string init_scheme_name(InitScheme scheme) {
  for (const InitName& entry : kInitNames)
    if (scheme == entry.scheme) return entry.name;
  HPA_INTERNAL_CHECK(false, "init scheme without a name");
}

InitScheme default_init_scheme(Arch arch) {
  // What the authors' code ran: torchvision's init (the paper's text describes `paper`, whose large
  // linear init diverges at lr 0.01 on AlexNet); vgg19_orig is defined by its N(0, 0.01) init.
  return arch == Arch::vgg19_orig ? InitScheme::normal_001 : InitScheme::torchvision;
}

ConvNet build_model(const ModelSpec& spec) {
  HPA_REQUIRE(spec.in_channels > 0, "input channels must be positive, got " << spec.in_channels);
  HPA_REQUIRE(spec.num_classes > 0, "class count must be positive, got " << spec.num_classes);
  HPA_REQUIRE(spec.width > 0 && std::isfinite(spec.width),
              "width multiplier must be > 0, got " << spec.width);
  HPA_REQUIRE(spec.dropout >= 0 && spec.dropout < 1, "dropout must be in [0, 1), got " << spec.dropout);
  switch (spec.arch) {
    case Arch::vgg11:
      return build_vgg(11, spec);
    case Arch::vgg13:
      return build_vgg(13, spec);
    case Arch::vgg16:
      return build_vgg(16, spec);
    case Arch::vgg19:
    case Arch::vgg19_orig:
      return build_vgg(19, spec);
    case Arch::alexnet:
      return build_alexnet(spec);
    case Arch::lenet:
      return build_lenet(spec);
  }
  HPA_INTERNAL_CHECK(false, "unhandled architecture");
}

namespace {

// One scheme's rule for one layer; the whole-model init and single-layer draws share it.
void init_layer(torch::Tensor& weight, torch::Tensor& bias, bool is_conv, Arch arch, InitScheme scheme,
                const std::function<void()>& pytorch_default) {
  namespace init = torch::nn::init;
  torch::NoGradGuard no_grad;
  const auto zero_bias = [&] {
    if (bias.defined()) bias.zero_();
  };
  switch (scheme) {
    case InitScheme::paper:
      init::kaiming_normal_(weight, /*a=*/0.0, torch::kFanOut, torch::kReLU);
      return zero_bias();
    case InitScheme::normal_001:
      weight.normal_(/*mean=*/0.0, /*std=*/0.01);
      return zero_bias();
    case InitScheme::torchvision:
      if (arch == Arch::alexnet) return pytorch_default();
      if (arch == Arch::lenet) {
        init::xavier_uniform_(weight, /*gain=*/std::sqrt(2.0));
        return zero_bias();
      }
      // every VGG, as torchvision's VGG._initialize_weights
      if (is_conv)
        init::kaiming_normal_(weight, /*a=*/0.0, torch::kFanOut, torch::kReLU);
      else
        weight.normal_(/*mean=*/0.0, /*std=*/0.01);
      return zero_bias();
  }
}

}  // namespace

void initialize_model(ConvNetImpl& model, Arch arch, InitScheme scheme) {
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2dImpl>()) {
      init_layer(conv->weight, conv->bias, /*is_conv=*/true, arch, scheme,
                 [conv] { conv->reset_parameters(); });
    } else if (auto* linear = module->as<torch::nn::LinearImpl>()) {
      init_layer(linear->weight, linear->bias, /*is_conv=*/false, arch, scheme,
                 [linear] { linear->reset_parameters(); });
    }
  }
}

std::pair<torch::Tensor, torch::Tensor> draw_conv_init(ConvNetImpl& model, const std::string& module_name,
                                                       Arch arch, InitScheme scheme, uint64_t seed) {
  const auto modules = model.named_modules("", /*include_self=*/false);
  const auto* found = modules.find(module_name);
  HPA_REQUIRE(found, "no module " << module_name << " in the model");
  const auto* like = (*found)->as<torch::nn::Conv2dImpl>();
  HPA_REQUIRE(like, module_name << " is not a convolution");
  torch::manual_seed(seed);
  const auto& o = like->options;
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
                             .stride(o.stride())
                             .padding(o.padding())
                             .dilation(o.dilation())
                             .groups(o.groups())
                             .bias(o.bias()));
  init_layer(conv->weight, conv->bias, /*is_conv=*/true, arch, scheme, [&conv] { conv->reset_parameters(); });
  return {conv->weight.detach(), conv->bias.defined() ? conv->bias.detach() : torch::Tensor()};
}

ConvNet make_model(const ModelSpec& spec, InitScheme scheme, uint64_t seed) {
  torch::manual_seed(seed);
  ConvNet model = build_model(spec);
  initialize_model(*model, spec.arch, scheme);
  return model;
}

}  // namespace hpa::models
