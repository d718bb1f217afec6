// ImageNet batches under mpirun -np 2: each rank loads its share of every global batch of the test
// pack with 4 decoding threads; the shares equal, bit for bit, the matching rows of the whole batch
// loaded by one thread on one rank. Needs the fixture packs (HPA_IMAGENET_FIXTURE, set by CTest).
#include "comm/communicator.hpp"
#include "common/keyed_random.hpp"
#include "data/batches.hpp"
#include "data/packed_dataset.hpp"

#include <ATen/Functions.h>
#include <gtest/gtest.h>

#include <cstdlib>

extern hpa::comm::World* g_world;

namespace {

std::vector<hpa::data::Batch> load_epoch(const hpa::data::SampleSet& samples, int64_t batch_size,
                                         uint64_t epoch, int group_rank, int group_size, int threads) {
  const int64_t n = samples.size(), num_batches = (n + batch_size - 1) / batch_size;
  const std::vector<int64_t> order = hpa::keyed_permutation(n, 7, epoch, hpa::RandomStream::epoch_order);
  hpa::data::LoaderOptions options;
  options.threads = threads;
  hpa::data::BatchLoader loader(
      samples, num_batches,
      [&](int64_t b) {
        const int64_t begin = b * batch_size, global = std::min(batch_size, n - begin);
        const auto [first, count] = hpa::data::rank_share(global, group_rank, group_size);
        return hpa::data::BatchPlan{{order.begin() + begin + first, order.begin() + begin + first + count},
                                    global};
      },
      epoch, options);
  std::vector<hpa::data::Batch> batches;
  hpa::data::Batch batch;
  while (loader.next(batch)) batches.push_back(batch);
  return batches;
}

TEST(ImageNetLoader, RanksAndThreadsGiveIdenticalBatches) {
  const char* fixture = std::getenv("HPA_IMAGENET_FIXTURE");
  ASSERT_NE(fixture, nullptr)
      << "HPA_IMAGENET_FIXTURE must name the folder tests/imagenet/make_fixture.sh made";
  const hpa::data::PackedDataset dataset("imagenet", std::string(fixture) + "/packs",
                                         hpa::data::make_image_transform(64, 73, true));
  const hpa::data::Split split = hpa::data::split_validation(dataset.labels(hpa::data::Part::train), 0.1, 7,
                                                             false, dataset.num_classes());
  const hpa::data::Normalization normalization =
      hpa::data::constant_normalization(hpa::data::NormalizationKind::imagenet, 3);
  for (bool augment : {true, false}) {
    const auto samples = dataset.samples(hpa::data::Part::train, split.train, normalization, hpa::data::Augment{augment, true}, 7);
    const auto whole = load_epoch(*samples, 24, 3, 0, 1, 1);
    const auto shares = load_epoch(*samples, 24, 3, g_world->world_rank(), g_world->world_size(), 4);
    ASSERT_EQ(whole.size(), shares.size());
    for (size_t b = 0; b < whole.size(); ++b) {
      const auto [first, count] =
          hpa::data::rank_share(whole[b].global_size, g_world->world_rank(), g_world->world_size());
      EXPECT_TRUE(at::equal(shares[b].images, whole[b].images.narrow(0, first, count)))
          << "batch " << b << (augment ? " (train transform)" : " (eval transform)");
      EXPECT_TRUE(at::equal(shares[b].labels, whole[b].labels.narrow(0, first, count)));
    }
    // A different epoch draws different crops (the train transform is not constant).
    if (augment) {
      EXPECT_FALSE(at::equal(load_epoch(*samples, 24, 4, 0, 1, 2)[0].images, whole[0].images));
    }
  }
}

}  // namespace
