// Under mpirun -np 2 (one seed group of both ranks, so gradients live in reduced buckets): every
// tensor the trainer keeps (parameters, init copy, momenta, gradient buckets) is as the training
// state's one placement makes it, float32 on the state's device, when the state is made and after a
// checkpoint read from files is loaded. A CPU machine has no second device to see a tensor left
// behind (and LibTorch cannot move a module to the meta device), so the checkpoint given here is
// float64: a tensor that bypassed the placement keeps that type, as on a GPU machine it would stay
// on the CPU and fail the next epoch's distance statistic.
#include "comm/communicator.hpp"
#include "common/device.hpp"
#include "models/architectures.hpp"
#include "models/parameters.hpp"
#include "train/training_state.hpp"

#include <ATen/Functions.h>
#include <gtest/gtest.h>

extern hpa::comm::World* g_world;

namespace {

hpa::models::ModelSpec lenet() {
  hpa::models::ModelSpec spec;
  spec.arch = hpa::models::Arch::lenet;
  spec.in_channels = 1;
  spec.num_classes = 10;
  return spec;
}

void expect_all_placed(hpa::train::TrainingState& state, const std::string& when) {
  const auto kept = state.kept_tensors();
  ASSERT_GT(kept.size(), 20u);  // parameters, init copies, momenta, buckets
  for (const auto& [role, tensor] : kept) {
    EXPECT_EQ(tensor.device(), state.device()) << when << ": " << role;
    EXPECT_EQ(tensor.scalar_type(), at::kFloat) << when << ": " << role;
  }
}

hpa::store::NamedTensors as_double(const hpa::store::NamedTensors& tensors, double scale) {
  hpa::store::NamedTensors result;
  for (const auto& [name, tensor] : tensors) result.emplace_back(name, tensor.to(at::kDouble) * scale);
  return result;
}

TEST(Placement, EveryKeptTensorPlacedFromTheStartAndAfterAResume) {
  const hpa::comm::Group group = g_world->split_groups(1);
  ASSERT_EQ(group.group_size(), 2);  // the reducer really reduces: gradients are bucket views
  const c10::Device device = hpa::select_rank_device("cpu", g_world->local_rank(), "--device");
  hpa::train::TrainingState state(lenet(), hpa::models::InitScheme::torchvision, 3, group, device, {});
  state.start_fresh();
  expect_all_placed(state, "fresh");

  // A checkpoint and an epoch-0 file as a reader might return them: another dtype than the state's.
  hpa::models::ConvNet other = hpa::models::make_model(lenet(), hpa::models::InitScheme::torchvision, 4);
  hpa::store::Checkpoint checkpoint;
  checkpoint.params = as_double(hpa::models::named_parameters(*other), 1.0);
  checkpoint.momenta = as_double(hpa::models::named_parameters(*other), 0.5);
  const hpa::store::NamedTensors init = as_double(hpa::models::named_parameters(*other), 2.0);
  state.load(checkpoint, init, "checkpoint.h5", "lenet");
  expect_all_placed(state, "resumed");
  // ... and the values are the checkpoint's.
  const auto params = hpa::models::named_parameters(*state.model);
  ASSERT_EQ(state.init_params.size(), init.size());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(at::allclose(params[i].second.to(at::kDouble), checkpoint.params[i].second)) << params[i].first;
    EXPECT_TRUE(at::allclose(state.init_params[i].second.to(at::kDouble), init[i].second)) << params[i].first;
    EXPECT_TRUE(at::allclose(state.sgd->momenta()[i].second.to(at::kDouble), checkpoint.momenta[i].second));
  }
}

}  // namespace
