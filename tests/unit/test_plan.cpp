// The grid's work plan and the farm's schedule (reinit/plan.hpp), and the FLOP costs it is built
// from (checked against VGG's layer table computed here by hand).
#include "common/error.hpp"
#include "models/architectures.hpp"
#include "reinit/grid.hpp"
#include "reinit/plan.hpp"

#include <gtest/gtest.h>
#include <torch/nn/modules/conv.h>

#include <map>
#include <set>

namespace {

using hpa::reinit::CostModel;
using hpa::reinit::WorkItem;

CostModel toy_costs() {
  CostModel costs;
  costs.full = 10;
  costs.layers = {{0.5, 9.5}, {4, 6}, {9, 1}};  // prefix grows, suffix shrinks, as in a ConvNet
  return costs;
}

TEST(GridPlan, EveryCellExactlyOnceLongestFirst) {
  const CostModel costs = toy_costs();
  for (int64_t ranks : {1, 2, 8, 64}) {
    const std::vector<WorkItem> plan = hpa::reinit::plan_items(3, 7, ranks, costs);
    std::map<std::pair<int64_t, int64_t>, std::set<int64_t>> cells;
    int64_t baselines = 0;
    for (const WorkItem& item : plan) {
      if (item.layer < 0) {
        ++baselines;
        continue;
      }
      ASSERT_GE(item.cells(), 1);
      for (int64_t c = item.first_column; c < item.last_column; ++c)
        EXPECT_TRUE((cells[{item.seed_index, item.layer}].insert(c).second)) << "cell twice";
    }
    EXPECT_EQ(baselines, 3);
    EXPECT_EQ(cells.size(), 9u);
    for (const auto& [key, columns] : cells) EXPECT_EQ(columns.size(), 7u);
    for (size_t i = 1; i < plan.size(); ++i)
      EXPECT_GE(hpa::reinit::item_cost(plan[i - 1], costs), hpa::reinit::item_cost(plan[i], costs));
  }
}

TEST(GridPlan, CheapPrefixesAreSplitExpensiveOnesAreNot) {
  const CostModel costs = toy_costs();
  const std::vector<WorkItem> plan = hpa::reinit::plan_items(1, 16, 16, costs);
  std::map<int64_t, int64_t> items_per_layer;
  for (const WorkItem& item : plan)
    if (item.layer >= 0) ++items_per_layer[item.layer];
  // total = 10 + (0.5 + 16 x 9.5) + (4 + 16 x 6) + (9 + 16 x 1) = 287.5; target 287.5 / (32 x 16) = 0.56.
  // Layer 0 (prefix 0.5 of 152.5): one cell per item. Layer 1: the repeated prefixes may add 10 % of
  // 100, i.e. 2 more prefixes of 4: 3 items. Layer 2 (prefix 9 of 25): whole.
  EXPECT_EQ(items_per_layer[0], 16);
  EXPECT_EQ(items_per_layer[1], 3);
  EXPECT_EQ(items_per_layer[2], 1);
  double planned = 0;
  for (const WorkItem& item : plan) planned += hpa::reinit::item_cost(item, costs);
  EXPECT_LE(planned, 1.1 * 287.5);  // at most 10 % more work than one item per layer
  // One rank: nothing to balance, every layer whole.
  for (const WorkItem& item : hpa::reinit::plan_items(1, 16, 1, costs))
    if (item.layer >= 0) {
      EXPECT_EQ(item.cells(), 16);
    }
  // A forced chunk size: ceil(16 / 5) = 4 chunks of 4 cells each (even split).
  for (const WorkItem& item : hpa::reinit::plan_items(1, 16, 16, costs, 5))
    if (item.layer >= 0) {
      EXPECT_EQ(item.cells(), 4);
    }
}

TEST(GridPlan, FarmSimulationTakesTheNextItemOnTheFirstFreeRank) {
  CostModel costs;
  costs.full = 1;
  costs.naive = true;
  costs.layers = {{0, 0}};
  // Items of 3, 3, 2, 2 cells (naive: cost = cells) on 2 ranks: 3+2 on each, wall 5.
  const std::vector<WorkItem> items = {{0, 0, 0, 3}, {0, 0, 3, 6}, {0, 0, 6, 8}, {0, 0, 8, 10}};
  const auto simulation = hpa::reinit::simulate_farm(items, costs, 2);
  EXPECT_DOUBLE_EQ(simulation.wall, 5);
  EXPECT_EQ(simulation.rank_items, (std::vector<int64_t>{2, 2}));
  EXPECT_DOUBLE_EQ(simulation.busy_fraction_at(4.9), 1.0);
  // 3 ranks: 3 | 3 | 2+2 -> the last rank ends at 4, the others at 3.
  const auto three = hpa::reinit::simulate_farm(items, costs, 3);
  EXPECT_DOUBLE_EQ(three.wall, 4);
  EXPECT_NEAR(three.busy_fraction_at(3.5), 1.0 / 3.0, 1e-12);
}

// The FLOP costs of VGG19 (10 classes) on 32x32 inputs, for its 16 conv layers.
CostModel vgg19_cifar_costs() {
  hpa::models::ModelSpec spec;
  spec.arch = hpa::models::Arch::vgg19;
  spec.num_classes = 10;
  hpa::models::ConvNet model = hpa::models::build_model(spec);
  std::vector<int64_t> convs;
  for (int64_t i = 0; i < model->num_features(); ++i)
    if (model->features[static_cast<size_t>(i)]->as<torch::nn::Conv2dImpl>()) convs.push_back(i);
  return hpa::reinit::estimate_costs(*model, convs, {3, 32, 32}, false);
}

// VGG19 on 32x32 inputs: 16 convs (3x3, padding 1) at 32, 32 | 16, 16 | 8 x4 | 4 x4 | 2 x4 pixels.
TEST(GridPlan, VggFlopsMatchTheLayerTable) {
  const CostModel costs = vgg19_cifar_costs();
  ASSERT_EQ(costs.layers.size(), 16u);
  const int64_t channels[16] = {64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512};
  const int64_t sides[16] = {32, 32, 16, 16, 8, 8, 8, 8, 4, 4, 4, 4, 2, 2, 2, 2};
  const std::set<int> pooled = {1, 3, 7, 11, 15};  // a max-pool follows these convs (0-based)
  double conv_flops = 0;
  for (int l = 0; l < 16; ++l) {
    const int64_t in = l == 0 ? 3 : channels[l - 1];
    const double layer = 2.0 * sides[l] * sides[l] * channels[l] * in * 9;
    // The prefix of layer l + 1 exceeds that of layer l by layer l's conv, its ReLU's outputs and
    // those of a max-pool after it (one operation per element).
    const double elements = static_cast<double>(channels[l] * sides[l] * sides[l]) *
                            (pooled.count(l) ? 1.25 : 1.0);
    if (l + 1 < 16) {
      const double step = costs.layers[static_cast<size_t>(l + 1)].prefix - costs.layers[static_cast<size_t>(l)].prefix;
      EXPECT_DOUBLE_EQ(step, layer + elements) << "layer " << l + 1;
    }
    conv_flops += layer;
    // The fused cells end in the folded head: a 512-wide first linear layer instead of 25088 (and
    // no avgpool elements), the baseline in the model's own.
    const double fold_saving = 2.0 * 4096 * (25088 - 512) + 25088;
    EXPECT_NEAR(costs.layers[static_cast<size_t>(l)].prefix + costs.layers[static_cast<size_t>(l)].suffix,
                costs.full - fold_saving, 1e-9 * costs.full);
  }
  // The whole model: the convs plus the classifier (512x1 after pooling to 1x1, avgpool to 7x7 in
  // torchvision's layout: 25088 -> 4096 -> 4096 -> 10) and small element-wise terms.
  const double classifier = 2.0 * (25088.0 * 4096 + 4096.0 * 4096 + 4096.0 * 10);
  EXPECT_NEAR(costs.full, conv_flops + classifier, 0.01 * costs.full);
  EXPECT_DOUBLE_EQ(costs.layers[0].prefix, 0.0);
}

// The farm schedule that hpa-reinit-grid uses, with VGG19's FLOP costs, 10 seeds, 13 epochs + 3
// re-draws and 64 ranks: at 95 % of the wall time at least 90 % of the ranks still work.
TEST(GridPlan, Vgg19GridKeepsSixtyFourRanksBusy) {
  const CostModel costs = vgg19_cifar_costs();
  const auto plan = hpa::reinit::plan_items(10, 16, 64, costs);
  const auto simulation = hpa::reinit::simulate_farm(plan, costs, 64);
  EXPECT_GE(simulation.busy_fraction_at(0.95 * simulation.wall), 0.9);
  double planned = 0, whole = 0;
  for (const WorkItem& item : plan) planned += hpa::reinit::item_cost(item, costs);
  for (const WorkItem& item : hpa::reinit::plan_items(10, 16, 64, costs, 16)) whole += hpa::reinit::item_cost(item, costs);
  EXPECT_LE(planned, 1.1 * whole);
  // Without splitting (one item per seed and layer) the tail is long: the plan is what keeps them busy.
  const auto unsplit = hpa::reinit::simulate_farm(hpa::reinit::plan_items(10, 16, 64, costs, 16), costs, 64);
  EXPECT_LT(unsplit.busy_fraction_at(0.95 * unsplit.wall), simulation.busy_fraction_at(0.95 * simulation.wall));
}

}  // namespace

namespace {

// The folded head of the fused evaluation against the model's own head (avgpool, flatten, classifier).
TEST(GridHead, FoldedHeadEqualsTheModelsHead) {
  for (auto arch : {hpa::models::Arch::vgg11, hpa::models::Arch::alexnet}) {
    hpa::models::ModelSpec spec;
    spec.arch = arch;
    spec.num_classes = 10;
    spec.width = 0.25;
    hpa::models::ConvNet model = hpa::models::build_model(spec);
    model->eval();
    torch::NoGradGuard no_grad;
    const int64_t channels = arch == hpa::models::Arch::vgg11 ? 128 : 64;  // width 1/4 of 512 / 256
    for (int64_t side : {1, 2, 3}) {
      const at::Tensor x = at::randn({5, channels, side, side});
      const hpa::reinit::EvalHead head(*model, {channels, side, side});
      EXPECT_TRUE(head.folded()) << side;
      const at::Tensor expected = model->forward_head(x), got = head.forward(x);
      EXPECT_TRUE(at::allclose(got, expected, 1e-4, 1e-5))
          << "side " << side << ": max difference " << (got - expected).abs().max().item<float>();
    }
    // A map as large as the pool's output: nothing to fold, the model's own head.
    const int64_t pooled = arch == hpa::models::Arch::vgg11 ? 7 : 6;
    EXPECT_FALSE(hpa::reinit::EvalHead(*model, {channels, pooled, pooled}).folded());
  }
}

}  // namespace
