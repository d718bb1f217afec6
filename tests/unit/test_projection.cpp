// The projection statistic against values computed by hand.
#include "common/error.hpp"
#include "stats/projection.hpp"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace {

using hpa::stats::NamedTensors;

TEST(Projection, CosinesOfHandMadeFilters) {
  // 3 filters of a conv layer with C=1, k=2 (d = 4, sqrt(d) = 2):
  //  f0 = [1, 1, 1, 1]      -> sum 4, norm 2     -> 4 / (2*2)         =  1
  //  f1 = [1, -1, 2, -2]    -> sum 0 (an exact zero)                   =  0
  //  f2 = [-3, 0, 0, 4]     -> sum 1, norm 5     -> 1 / (5*2)         =  0.1
  const at::Tensor weight =
      at::tensor({1.f, 1.f, 1.f, 1.f, 1.f, -1.f, 2.f, -2.f, -3.f, 0.f, 0.f, 4.f}).reshape({3, 1, 2, 2});
  const at::Tensor cosines = hpa::stats::filter_cosines(weight);
  ASSERT_EQ(cosines.numel(), 3);
  EXPECT_DOUBLE_EQ(cosines[0].item<double>(), 1.0);
  EXPECT_EQ(cosines[1].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(cosines[2].item<double>(), 0.1);
  // n_l counts c <= 0: only f1 (exact zero) -> 1/3
  EXPECT_DOUBLE_EQ(hpa::stats::neg_fraction(cosines), 1.0 / 3.0);
}

TEST(Projection, NegativeFiltersAndMultiChannel) {
  // C=2, k=1x2 (d = 4): f = [-1, -2, -3, -4] -> sum -10, norm sqrt(30) -> -10 / (sqrt(30)*2)
  const at::Tensor weight = at::tensor({-1.0, -2.0, -3.0, -4.0}).reshape({1, 2, 1, 2});
  const at::Tensor cosines = hpa::stats::filter_cosines(weight);
  EXPECT_NEAR(cosines[0].item<double>(), -10.0 / (std::sqrt(30.0) * 2.0), 1e-15);
  EXPECT_EQ(hpa::stats::neg_fraction(cosines), 1.0);
}

TEST(Projection, ZeroFilterCountsAsNonPositive) {
  const at::Tensor weight = at::zeros({2, 1, 3, 3});
  const at::Tensor cosines = hpa::stats::filter_cosines(weight);
  EXPECT_EQ(cosines[0].item<double>(), 0.0);
  EXPECT_EQ(hpa::stats::neg_fraction(cosines), 1.0);
}

TEST(Projection, FloatAndDoubleAgree) {
  const at::Tensor weight = at::randn({64, 16, 3, 3}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor from_double = hpa::stats::filter_cosines(weight);
  const at::Tensor from_float = hpa::stats::filter_cosines(weight.to(at::kFloat));
  EXPECT_LT((from_double - from_float).abs().max().item<double>(), 1e-6);
  const at::Tensor reference = weight.flatten(1).sum(1) / (weight.flatten(1).norm(2, 1) * 12.0);
  EXPECT_LT((from_double - reference).abs().max().item<double>(), 1e-14);
}

TEST(Projection, LinearLayerRows) {
  // [2, 3]: rows [1, 2, -6] -> -3 / (sqrt(41)*sqrt(3)); [1, 1, 1] -> 1
  const at::Tensor weight = at::tensor({1.0, 2.0, -6.0, 1.0, 1.0, 1.0}).reshape({2, 3});
  const at::Tensor cosines = hpa::stats::filter_cosines(weight);
  EXPECT_NEAR(cosines[0].item<double>(), -3.0 / (std::sqrt(41.0) * std::sqrt(3.0)), 1e-15);
  EXPECT_NEAR(cosines[1].item<double>(), 1.0, 1e-15);
}

TEST(Projection, RejectsVectorsAndEmptyWeights) {
  EXPECT_THROW(hpa::stats::filter_cosines(at::ones({5})), hpa::Error);
  EXPECT_THROW(hpa::stats::filter_cosines(at::ones({0, 3})), hpa::Error);
  EXPECT_THROW(hpa::stats::neg_fraction(at::ones({0})), hpa::Error);
}

TEST(Projection, RelativeDistances) {
  const at::Tensor init = at::tensor({3.0, 4.0});     // norm 5, max 4
  const at::Tensor current = at::tensor({3.0, 1.0});  // diff [0, -3]: norm 3, max 3
  EXPECT_DOUBLE_EQ(hpa::stats::relative_l2_distance(current, init), 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(hpa::stats::relative_linf_distance(current, init), 3.0 / 4.0);
  EXPECT_TRUE(std::isnan(hpa::stats::relative_l2_distance(current, at::zeros({2}))));
  EXPECT_THROW(hpa::stats::relative_l2_distance(current, at::zeros({3})), hpa::Error);
}

TEST(Projection, FindLayersSkipsOneByOneAndOrdersConvsFirst) {
  NamedTensors params = {
      {"features.0.weight", at::zeros({8, 3, 3, 3})},
      {"features.0.bias", at::zeros({8})},
      {"proj.weight", at::zeros({8, 8, 1, 1})},  // 1x1: skipped
      {"fc.weight", at::zeros({10, 8})},         // linear
      {"features.2.weight", at::zeros({16, 8, 5, 5})},
  };
  auto convs = hpa::stats::find_layers(params, /*with_linear=*/false);
  ASSERT_EQ(convs.size(), 2u);
  EXPECT_EQ(convs[0].name, "features.0");
  EXPECT_EQ(convs[0].index, 1);
  EXPECT_EQ(convs[1].name, "features.2");
  EXPECT_EQ(convs[1].index, 2);
  auto all = hpa::stats::find_layers(params, /*with_linear=*/true);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].name, "fc");
  EXPECT_EQ(all[2].index, 3);
  EXPECT_EQ(all[2].kind, hpa::stats::LayerKind::linear);
}

TEST(Projection, ComputeLayerStatsMatchesPerLayerCalls) {
  NamedTensors params = {{"a.weight", at::randn({32, 4, 3, 3})}, {"b.weight", at::randn({16, 32, 3, 3})}};
  auto stats = hpa::stats::compute_layer_stats(params, false);
  ASSERT_EQ(stats.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const at::Tensor cosines = hpa::stats::filter_cosines(params[i].second);
    EXPECT_TRUE(at::equal(stats[i].cosines, cosines));
    EXPECT_EQ(stats[i].neg_fraction, hpa::stats::neg_fraction(cosines));
    EXPECT_DOUBLE_EQ(stats[i].mean_cosine, cosines.mean().item<double>());
  }
}

}  // namespace

TEST(Projection, DivergedFiltersAreNaNNeverBiased) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  // Filter 0 holds a NaN, filter 1 an infinity, filter 2 is finite and negative.
  const at::Tensor weight = at::tensor({1.0, nan, -1.0, inf, -1.0, -2.0}, at::kDouble).reshape({3, 2});
  const at::Tensor cosines = hpa::stats::filter_cosines(weight);
  EXPECT_TRUE(std::isnan(cosines[0].item<double>()));
  EXPECT_TRUE(std::isnan(cosines[1].item<double>()));
  EXPECT_NEAR(cosines[2].item<double>(), -3.0 / std::sqrt(10.0), 1e-12);  // (-1 - 2) / (sqrt(5) sqrt(2))
  // A layer with a diverged filter has no n_l (before: NaN filters counted as <= 0, n_l = 1).
  EXPECT_TRUE(std::isnan(hpa::stats::neg_fraction(cosines)));
  EXPECT_DOUBLE_EQ(hpa::stats::neg_fraction(cosines.slice(0, 2, 3)), 1.0);
}
