// Architecture and init-scheme names, the model factory and the init schemes.
#include "models/architectures.hpp"

#include "common/error.hpp"

#include <torch/nn/init.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include <cmath>
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

// Applies `fn(weight, bias, is_conv)` to every conv and linear layer, in module order.
template <typename Fn>
void for_each_weighted_layer(ConvNetImpl& model, Fn fn) {
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2dImpl>()) {
      fn(conv->weight, conv->bias, /*is_conv=*/true);
    } else if (auto* linear = module->as<torch::nn::LinearImpl>()) {
      fn(linear->weight, linear->bias, /*is_conv=*/false);
    }
  }
}

void reset_to_pytorch_default(ConvNetImpl& model) {
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2dImpl>()) conv->reset_parameters();
    if (auto* linear = module->as<torch::nn::LinearImpl>()) linear->reset_parameters();
  }
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
  return arch == Arch::vgg19_orig ? InitScheme::normal_001 : InitScheme::paper;
}

ConvNet build_model(const ModelSpec& spec) {
  HPA_REQUIRE(spec.in_channels > 0, "input channels must be positive, got " << spec.in_channels);
  HPA_REQUIRE(spec.num_classes > 0, "class count must be positive, got " << spec.num_classes);
  HPA_REQUIRE(spec.width > 0 && std::isfinite(spec.width), "width multiplier must be > 0, got " << spec.width);
  HPA_REQUIRE(spec.dropout >= 0 && spec.dropout < 1, "dropout must be in [0, 1), got " << spec.dropout);
  switch (spec.arch) {
    case Arch::vgg11: return build_vgg(11, spec);
    case Arch::vgg13: return build_vgg(13, spec);
    case Arch::vgg16: return build_vgg(16, spec);
    case Arch::vgg19:
    case Arch::vgg19_orig: return build_vgg(19, spec);
    case Arch::alexnet: return build_alexnet(spec);
    case Arch::lenet: return build_lenet(spec);
  }
  HPA_INTERNAL_CHECK(false, "unhandled architecture");
}

void initialize_model(ConvNetImpl& model, Arch arch, InitScheme scheme) {
  namespace init = torch::nn::init;
  torch::NoGradGuard no_grad;
  switch (scheme) {
    case InitScheme::paper:
      for_each_weighted_layer(model, [](torch::Tensor& weight, torch::Tensor& bias, bool) {
        init::kaiming_normal_(weight, /*a=*/0.0, torch::kFanOut, torch::kReLU);
        if (bias.defined()) bias.zero_();
      });
      return;
    case InitScheme::normal_001:
      for_each_weighted_layer(model, [](torch::Tensor& weight, torch::Tensor& bias, bool) {
        weight.normal_(/*mean=*/0.0, /*std=*/0.01);
        if (bias.defined()) bias.zero_();
      });
      return;
    case InitScheme::torchvision:
      if (arch == Arch::alexnet) {
        reset_to_pytorch_default(model);
      } else if (arch == Arch::lenet) {
        const double relu_gain = std::sqrt(2.0);
        for_each_weighted_layer(model, [relu_gain](torch::Tensor& weight, torch::Tensor& bias, bool) {
          init::xavier_uniform_(weight, relu_gain);
          if (bias.defined()) bias.zero_();
        });
      } else {  // every VGG, as torchvision's VGG._initialize_weights
        for_each_weighted_layer(model, [](torch::Tensor& weight, torch::Tensor& bias, bool is_conv) {
          if (is_conv) {
            init::kaiming_normal_(weight, /*a=*/0.0, torch::kFanOut, torch::kReLU);
          } else {
            weight.normal_(/*mean=*/0.0, /*std=*/0.01);
          }
          if (bias.defined()) bias.zero_();
        });
      }
      return;
  }
  HPA_INTERNAL_CHECK(false, "unhandled init scheme");
}

ConvNet make_model(const ModelSpec& spec, InitScheme scheme, uint64_t seed) {
  torch::manual_seed(seed);
  ConvNet model = build_model(spec);
  initialize_model(*model, spec.arch, scheme);
  return model;
}

}  // namespace hpa::models
