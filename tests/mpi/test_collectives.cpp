// Under mpirun -np 2: the group collectives, the bucketed gradient reducer against a plain sum,
// and exact distributed evaluation on a set whose size the rank count does not divide.
#include "comm/communicator.hpp"
#include "comm/gradient_reducer.hpp"
#include "common/error.hpp"
#include "data/batches.hpp"
#include "data/memory_dataset.hpp"
#include "models/architectures.hpp"
#include "train/evaluate.hpp"

#include <ATen/Functions.h>
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

extern hpa::comm::World* g_world;

namespace {

TEST(Collectives, WorldHasTwoRanksAndGroupsSplit) {
  ASSERT_EQ(g_world->world_size(), 2) << "run under mpirun -np 2";
  const hpa::comm::Group pair = g_world->split_groups(1);
  EXPECT_EQ(pair.group_size(), 2);
  EXPECT_EQ(pair.group_rank(), g_world->world_rank());
  const hpa::comm::Group singles = g_world->split_groups(2);
  EXPECT_EQ(singles.group_size(), 1);
  EXPECT_EQ(singles.group_index(), g_world->world_rank());
  EXPECT_THROW(g_world->split_groups(3), hpa::Error);
}

TEST(Collectives, AllreduceAndBroadcast) {
  const hpa::comm::Group group = g_world->split_groups(1);
  at::Tensor values = at::full({5}, static_cast<double>(group.group_rank() + 1), at::kDouble);
  group.group_allreduce_sum(values);
  EXPECT_TRUE(at::equal(values, at::full({5}, 3.0, at::kDouble)));
  at::Tensor mine = at::full({3}, static_cast<float>(10 * group.group_rank() + 7));
  group.group_broadcast(mine, /*root=*/1);
  EXPECT_TRUE(at::equal(mine, at::full({3}, 17.0f)));
}

// Every rank computes gradients of a different batch; the reducer must leave the exact sum.
void check_reducer(bool overlap, bool rank1_has_no_data) {
  const hpa::comm::Group group = g_world->split_groups(1);
  hpa::models::ModelSpec spec;
  spec.arch = hpa::models::Arch::lenet;
  spec.in_channels = 1;
  spec.num_classes = 10;
  spec.dropout = 0;
  auto model = hpa::models::make_model(spec, hpa::models::InitScheme::torchvision, 3);
  // The same model outside the reducer gives each rank's own gradients for the expected sum
  // (the reducer's .grad may already be summed in place while backward is still running).
  auto twin = hpa::models::make_model(spec, hpa::models::InitScheme::torchvision, 3);
  hpa::comm::ReducerOptions options;
  options.overlap = overlap;
  options.bucket_bytes = 64 << 10;  // several buckets even for LeNet
  options.first_bucket_bytes = 4 << 10;
  hpa::comm::GradientReducer reducer(group, model->parameters(), options);
  if (overlap)
    EXPECT_GT(reducer.num_buckets(), 2);
  else
    EXPECT_EQ(reducer.num_buckets(), 1);
  for (int step = 0; step < 3; ++step) {
    for (auto& net : {model, twin})
      for (auto& p : net->parameters())
        if (p.grad().defined()) p.mutable_grad().zero_();
    reducer.begin_step();
    torch::manual_seed(100 + 10 * step + group.group_rank());
    const bool empty = rank1_has_no_data && group.group_rank() == 1;
    if (!empty) {
      const at::Tensor x = at::randn({4, 1, 28, 28});
      const at::Tensor y = at::randint(0, 10, {4}, at::kLong);
      torch::nn::functional::cross_entropy(model->forward(x), y).backward();
      torch::nn::functional::cross_entropy(twin->forward(x), y).backward();
    }
    std::vector<at::Tensor> expected;
    for (auto& p : twin->parameters()) {
      at::Tensor g = p.grad().defined() ? p.grad().clone() : at::zeros_like(p);
      expected.push_back(g);
    }
    std::vector<double> extras = {1.0 + group.group_rank(), 2.0};
    reducer.finish_step(extras);
    for (auto& g : expected) group.group_allreduce_sum(g);
    EXPECT_EQ(extras[0], 3.0);
    EXPECT_EQ(extras[1], 4.0);
    const auto params = model->parameters();
    for (size_t k = 0; k < params.size(); ++k)
      EXPECT_TRUE(at::allclose(params[k].grad(), expected[k], /*rtol=*/1e-6, /*atol=*/1e-7))
          << "parameter " << k;
  }
}

TEST(GradientReducer, OverlappedBucketsSumExactly) { check_reducer(/*overlap=*/true, false); }
TEST(GradientReducer, SingleAllreduceAfterBackward) { check_reducer(/*overlap=*/false, false); }
TEST(GradientReducer, RankWithoutDataContributesZeros) { check_reducer(/*overlap=*/true, true); }

TEST(Evaluation, EverySampleCountedOnceOnAnUnevenSplit) {
  const hpa::comm::Group pair = g_world->split_groups(1);
  hpa::data::ImageSet set;
  torch::manual_seed(9);  // same data on both ranks
  set.images = at::randint(0, 256, {999, 1, 28, 28}, at::kByte);
  set.labels = at::randint(0, 10, {999}, at::kLong);
  const hpa::data::InMemorySamples assembler(
      set, hpa::data::all_indices(999),
      hpa::data::constant_normalization(hpa::data::NormalizationKind::unit, 1), {}, 1);
  hpa::models::ModelSpec spec;
  spec.arch = hpa::models::Arch::lenet;
  spec.in_channels = 1;
  spec.num_classes = 10;
  auto model = hpa::models::make_model(spec, hpa::models::InitScheme::torchvision, 4);
  const hpa::train::EvalResult distributed =
      hpa::train::evaluate(*model, assembler, pair, /*batch_size=*/64, {});
  const hpa::comm::Group alone = g_world->split_groups(2);
  const hpa::train::EvalResult serial =
      hpa::train::evaluate(*model, assembler, alone, /*batch_size=*/1000, {});
  EXPECT_EQ(distributed.count, 999);
  EXPECT_EQ(serial.count, 999);
  EXPECT_DOUBLE_EQ(distributed.accuracy, serial.accuracy);
  EXPECT_NEAR(distributed.loss, serial.loss, 1e-6 * serial.loss);
}

}  // namespace
