// Models: torchvision parameter counts and names, output shapes, init schemes, input-size checks.
#include "common/error.hpp"
#include "models/architectures.hpp"
#include "models/keyed_dropout.hpp"
#include "models/parameters.hpp"

#include <gtest/gtest.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

namespace {

using hpa::models::Arch;
using hpa::models::ModelSpec;

int64_t count_parameters(hpa::models::ConvNetImpl& model) {
  int64_t total = 0;
  for (const auto& parameter : model.parameters()) total += parameter.numel();
  return total;
}

ModelSpec spec_of(Arch arch, int64_t in_channels, int64_t num_classes, double width = 1.0) {
  ModelSpec spec;
  spec.arch = arch;
  spec.in_channels = in_channels;
  spec.num_classes = num_classes;
  spec.width = width;
  return spec;
}

// The figures torchvision 0.14 prints for sum(p.numel() for p in model.parameters()).
TEST(Models, ParameterCountsMatchTorchvision) {
  EXPECT_EQ(count_parameters(*hpa::models::build_model(spec_of(Arch::vgg11, 3, 1000))), 132863336);
  EXPECT_EQ(count_parameters(*hpa::models::build_model(spec_of(Arch::vgg13, 3, 1000))), 133047848);
  EXPECT_EQ(count_parameters(*hpa::models::build_model(spec_of(Arch::vgg16, 3, 1000))), 138357544);
  EXPECT_EQ(count_parameters(*hpa::models::build_model(spec_of(Arch::vgg19, 3, 1000))), 143667240);
  EXPECT_EQ(count_parameters(*hpa::models::build_model(spec_of(Arch::vgg19_orig, 3, 1000))), 143667240);
  EXPECT_EQ(count_parameters(*hpa::models::build_model(spec_of(Arch::alexnet, 3, 1000))), 61100840);
}

// LeNet variant, 1 channel, 10 classes, counted by hand:
// convs 3x3: 1*6*9+6 + 6*6*9+6 + 6*16*9+16 + 16*16*9+16 + 16*64*9+64 + 64*64*9+64 = 49798
// linears: 576*120+120 + 120*84+84 + 84*10+10 = 80254
TEST(Models, LeNetParameterCount) {
  EXPECT_EQ(count_parameters(*hpa::models::build_model(spec_of(Arch::lenet, 1, 10))), 49798 + 80254);
}

TEST(Models, TorchvisionParameterNames) {
  auto vgg = hpa::models::build_model(spec_of(Arch::vgg11, 3, 1000));
  const auto vgg_params = vgg->named_parameters();
  EXPECT_TRUE(vgg_params.contains("features.0.weight"));
  EXPECT_TRUE(vgg_params.contains("features.18.bias"));
  EXPECT_TRUE(vgg_params.contains("classifier.6.bias"));
  EXPECT_EQ(vgg_params.size(), 2u * (8 + 3));
  auto alexnet = hpa::models::build_model(spec_of(Arch::alexnet, 3, 1000));
  const auto alex_params = alexnet->named_parameters();
  EXPECT_TRUE(alex_params.contains("features.10.weight"));
  EXPECT_TRUE(alex_params.contains("classifier.1.weight"));
  EXPECT_TRUE(alex_params.contains("classifier.6.bias"));
  EXPECT_EQ(alex_params["classifier.1.weight"].sizes(), (std::vector<int64_t>{4096, 9216}));
}

struct ShapeCase {
  Arch arch;
  int64_t channels, size;
  bool fits;
};

TEST(Models, OutputShapesOrClearErrorForEveryInputSize) {
  torch::NoGradGuard no_grad;
  const ShapeCase cases[] = {
      {Arch::lenet, 1, 28, true},    {Arch::lenet, 3, 32, true},    {Arch::lenet, 3, 224, true},
      {Arch::vgg11, 3, 32, true},    {Arch::vgg11, 3, 224, true},   {Arch::vgg11, 1, 28, false},
      {Arch::vgg19, 3, 32, true},    {Arch::vgg16, 1, 28, false},   {Arch::alexnet, 3, 224, true},
      {Arch::alexnet, 3, 32, false}, {Arch::alexnet, 1, 28, false},
  };
  for (const ShapeCase& c : cases) {
    SCOPED_TRACE(hpa::models::arch_name(c.arch) + " " + std::to_string(c.size));
    // Narrow models keep the 224x224 VGG pass cheap; the layout, and so the shapes, are the same.
    auto model = hpa::models::build_model(spec_of(c.arch, c.channels, 10, /*width=*/0.125));
    model->eval();
    if (c.fits) {
      EXPECT_NO_THROW(model->check_input_size(c.size, c.size));
      EXPECT_EQ(model->forward(torch::zeros({2, c.channels, c.size, c.size})).sizes(),
                (std::vector<int64_t>{2, 10}));
    } else {
      EXPECT_THROW(model->check_input_size(c.size, c.size), hpa::Error);
    }
  }
}

TEST(Models, InputSizeErrorNamesSmallestSize) {
  auto vgg = hpa::models::build_model(spec_of(Arch::vgg11, 1, 10));
  try {
    vgg->check_input_size(28, 28);
    FAIL() << "28x28 should not fit VGG";
  } catch (const hpa::Error& error) {
    EXPECT_NE(std::string(error.what()).find("at least 32x32"), std::string::npos) << error.what();
  }
}

TEST(Models, WidthMultiplierScalesChannels) {
  auto narrow = hpa::models::build_model(spec_of(Arch::vgg11, 3, 10, 0.25));
  EXPECT_EQ(narrow->named_parameters()["features.0.weight"].size(0), 16);
  EXPECT_EQ(narrow->named_parameters()["classifier.0.weight"].sizes(),
            (std::vector<int64_t>{1024, 128 * 49}));
  EXPECT_THROW(hpa::models::build_model(spec_of(Arch::vgg11, 3, 10, 0.0)), hpa::Error);
  EXPECT_THROW(hpa::models::build_model(spec_of(Arch::vgg11, 3, 0)), hpa::Error);
}

TEST(Models, SameSeedSameWeightsOtherSeedOtherWeights) {
  const ModelSpec spec = spec_of(Arch::lenet, 1, 10);
  auto a = hpa::models::make_model(spec, hpa::models::InitScheme::paper, 7);
  auto b = hpa::models::make_model(spec, hpa::models::InitScheme::paper, 7);
  auto c = hpa::models::make_model(spec, hpa::models::InitScheme::paper, 8);
  const auto pa = hpa::models::named_parameters(*a), pb = hpa::models::named_parameters(*b),
             pc = hpa::models::named_parameters(*c);
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i].second, pb[i].second)) << pa[i].first;
  EXPECT_FALSE(torch::equal(pa[0].second, pc[0].second));
}

// Sample standard deviations of large layers are within a few percent of the scheme's target.
TEST(Models, InitSchemesDrawFromTheirDistributions) {
  const ModelSpec spec = spec_of(Arch::vgg11, 3, 1000, 0.5);
  auto tv = hpa::models::make_model(spec, hpa::models::InitScheme::torchvision, 1);
  auto params = tv->named_parameters();
  const torch::Tensor conv = params["features.3.weight"];  // [64, 32, 3, 3], fan_out = 64*9
  EXPECT_NEAR(conv.std().item<double>(), std::sqrt(2.0 / (64 * 9)), 0.03 * std::sqrt(2.0 / (64 * 9)));
  EXPECT_NEAR(params["classifier.0.weight"].std().item<double>(), 0.01, 0.0005);
  EXPECT_EQ(params["classifier.0.bias"].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(params["features.0.bias"].abs().sum().item<double>(), 0.0);

  auto paper = hpa::models::make_model(spec, hpa::models::InitScheme::paper, 1);
  const torch::Tensor linear = paper->named_parameters()["classifier.3.weight"];  // [2048, 2048]
  EXPECT_NEAR(linear.std().item<double>(), std::sqrt(2.0 / 2048), 0.02 * std::sqrt(2.0 / 2048));

  auto orig = hpa::models::make_model(spec_of(Arch::vgg19_orig, 3, 10, 0.5),
                                      hpa::models::default_init_scheme(Arch::vgg19_orig), 1);
  EXPECT_NEAR(orig->named_parameters()["features.2.weight"].std().item<double>(), 0.01, 0.0005);

  // AlexNet under torchvision keeps PyTorch's default: uniform weights and non-zero biases.
  auto alex =
      hpa::models::make_model(spec_of(Arch::alexnet, 3, 1000, 0.5), hpa::models::InitScheme::torchvision, 1);
  const torch::Tensor bias = alex->named_parameters()["features.3.bias"];
  EXPECT_GT(bias.abs().sum().item<double>(), 0.0);
  const double fan_in = 32 * 25;
  EXPECT_LE(bias.abs().max().item<double>(), 1.0 / std::sqrt(fan_in) + 1e-7);
}

TEST(Models, NamesRoundTripAndUnknownNamesFail) {
  for (const std::string& name : hpa::models::arch_names())
    EXPECT_EQ(hpa::models::arch_name(hpa::models::parse_arch(name)), name);
  EXPECT_THROW(hpa::models::parse_arch("resnet50"), hpa::Error);
  EXPECT_THROW(hpa::models::parse_init_scheme("xavier"), hpa::Error);
  EXPECT_EQ(hpa::models::parse_init_scheme("normal-0.01"), hpa::models::InitScheme::normal_001);
}

TEST(Models, CheckParametersFitNamesTheParameter) {
  auto model = hpa::models::build_model(spec_of(Arch::lenet, 1, 10));
  hpa::models::NamedTensors tensors = hpa::models::named_parameters(*model);
  EXPECT_NO_THROW(hpa::models::check_parameters_fit(*model, tensors, "f.pth", "lenet"));
  tensors[2].second = torch::zeros({3, 3});
  try {
    hpa::models::check_parameters_fit(*model, tensors, "f.pth", "lenet");
    FAIL();
  } catch (const hpa::Error& error) {
    EXPECT_NE(std::string(error.what()).find("features.2.weight"), std::string::npos) << error.what();
  }
  tensors = hpa::models::named_parameters(*model);
  tensors.pop_back();
  EXPECT_THROW(hpa::models::check_parameters_fit(*model, tensors, "f.pth", "lenet"), hpa::Error);
}

}  // namespace

TEST(KeyedDropout, MaskIsAFunctionOfKeyAndLayer) {
  constexpr int64_t kCount = 1 << 20;
  std::vector<float> a(kCount), b(kCount), c(kCount), d(kCount);
  hpa::models::keyed_dropout_mask(/*key=*/12345, /*layer=*/1, 0.5, kCount, a.data());
  hpa::models::keyed_dropout_mask(12345, 1, 0.5, kCount, b.data());
  hpa::models::keyed_dropout_mask(12346, 1, 0.5, kCount, c.data());
  hpa::models::keyed_dropout_mask(12345, 2, 0.5, kCount, d.data());
  EXPECT_EQ(a, b);
  int64_t kept = 0, same_as_other_key = 0, same_as_other_layer = 0;
  for (int64_t j = 0; j < kCount; ++j) {
    ASSERT_TRUE(a[j] == 0.0f || a[j] == 2.0f) << a[j];  // kept values scaled by 1 / (1 - p)
    kept += a[j] != 0.0f;
    same_as_other_key += a[j] == c[j];
    same_as_other_layer += a[j] == d[j];
  }
  // Binomial(2^20, 1/2): sd 512; these bounds are 5 sd.
  EXPECT_NEAR(static_cast<double>(kept), kCount / 2.0, 2560);
  EXPECT_NEAR(static_cast<double>(same_as_other_key), kCount / 2.0, 2560);
  EXPECT_NEAR(static_cast<double>(same_as_other_layer), kCount / 2.0, 2560);
  std::vector<float> sparse(kCount);
  hpa::models::keyed_dropout_mask(7, 1, 0.1, kCount, sparse.data());
  int64_t dropped = 0;
  for (float value : sparse) dropped += value == 0.0f;
  EXPECT_NEAR(static_cast<double>(dropped), 0.1 * kCount, 5 * 307);
}

TEST(KeyedDropout, TrainingNeedsOneKeyPerSampleEvaluationIsIdentity) {
  hpa::models::KeyedDropout dropout(0.5, 1);
  const at::Tensor x = torch::ones({3, 8});
  EXPECT_THROW(dropout->forward(x), hpa::Error);  // training without keys
  dropout->set_keys({1, 2, 3});
  const at::Tensor y = dropout->forward(x);
  std::vector<float> expected(8);
  for (int64_t b = 0; b < 3; ++b) {
    hpa::models::keyed_dropout_mask(static_cast<uint64_t>(b + 1), 1, 0.5, 8, expected.data());
    for (int64_t j = 0; j < 8; ++j) EXPECT_EQ(y[b][j].item<float>(), expected[static_cast<size_t>(j)]);
  }
  dropout->eval();
  EXPECT_TRUE(dropout->forward(x).equal(x));
}

// The model's numerics: channels-last moves the 4-D parameters to NHWC strides with their values;
// bf16 runs the pass in bfloat16 (inside it: a bfloat16 activation) and returns float32 logits near
// the fp32 ones; leaving the pass leaves autocast as it was.
TEST(Numerics, ChannelsLastKeepsValuesAndBf16ReturnsFloatLogits) {
  ModelSpec spec;
  spec.arch = Arch::vgg11;
  spec.num_classes = 10;
  spec.width = 0.25;
  spec.dropout = 0;
  hpa::models::ConvNet model = hpa::models::make_model(spec, hpa::models::InitScheme::torchvision, 3);
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = at::randn({4, 3, 32, 32});
  const at::Tensor weight = model->features[0]->as<torch::nn::Conv2dImpl>()->weight.clone();
  const at::Tensor fp32 = model->forward(x);
  model->set_numerics({hpa::models::Precision::fp32, hpa::models::MemoryFormat::channels_last});
  const at::Tensor& moved = model->features[0]->as<torch::nn::Conv2dImpl>()->weight;
  EXPECT_TRUE(moved.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_FALSE(moved.is_contiguous());
  EXPECT_TRUE(at::equal(moved, weight));
  EXPECT_TRUE(at::allclose(model->forward(x), fp32, 1e-4, 1e-5));

  model->set_numerics({hpa::models::Precision::bf16, hpa::models::MemoryFormat::contiguous});
  EXPECT_TRUE(model->features[0]->as<torch::nn::Conv2dImpl>()->weight.is_contiguous());
  const at::Tensor bf16 = model->forward(x);
  EXPECT_EQ(bf16.scalar_type(), at::kFloat);
  const double scale = fp32.abs().max().item<double>();
  const double diff = (bf16 - fp32).abs().max().item<double>();
  EXPECT_GT(diff, 0.0);           // bfloat16 products round: not the fp32 result
  EXPECT_LT(diff, 0.05 * scale);  // but near it (8-bit mantissas, float32 sums)
  {
    const hpa::models::AutocastScope scope(c10::DeviceType::CPU, hpa::models::Precision::bf16);
    EXPECT_EQ(model->forward_features(x, 0, 1).scalar_type(), at::kBFloat16);
  }
  EXPECT_EQ(model->forward_features(x, 0, 1).scalar_type(), at::kFloat);  // the scope ended
}
