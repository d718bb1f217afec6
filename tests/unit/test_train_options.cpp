// hpa-train option checks and the learning-rate schedules.
#include "common/device.hpp"
#include "common/error.hpp"
#include "train/options.hpp"
#include "train/schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

namespace {

std::string error_of(hpa::train::TrainOptions options) {
  try {
    hpa::train::validate(options);
  } catch (const hpa::Error& error) {
    return error.what();
  }
  return "";
}

hpa::train::TrainOptions valid() {
  hpa::train::TrainOptions options;
  options.out = "/tmp/run";
  return options;
}

TEST(TrainOptions, BadValuesNameTheirOption) {
  auto o = valid();
  EXPECT_EQ(error_of(o), "");
  o = valid();
  o.out = "";
  EXPECT_NE(error_of(o).find("--out"), std::string::npos);
  o = valid();
  o.epochs = -1;
  EXPECT_NE(error_of(o).find("--epochs"), std::string::npos);
  o = valid();
  o.lr = 0;
  EXPECT_NE(error_of(o).find("--lr"), std::string::npos);
  o = valid();
  o.lr = -0.1;
  EXPECT_NE(error_of(o).find("--lr"), std::string::npos);
  o = valid();
  o.width = 0;
  EXPECT_NE(error_of(o).find("--width"), std::string::npos);
  for (double width : {16.5, std::nan(""), HUGE_VAL}) {  // run.h5 is read back with the same bound
    o = valid();
    o.width = width;
    EXPECT_NE(error_of(o).find("--width must be in (0, 16]"), std::string::npos) << width;
  }
  o = valid();
  o.width = 16;
  EXPECT_EQ(error_of(o), "");
  o = valid();
  o.batch_size = 0;
  EXPECT_NE(error_of(o).find("--batch-size"), std::string::npos);
  o = valid();
  o.momentum = 1;
  EXPECT_NE(error_of(o).find("--momentum"), std::string::npos);
  o = valid();
  o.val_fraction = 1;
  EXPECT_NE(error_of(o).find("--val-fraction"), std::string::npos);
  o = valid();
  o.seeds_text = "";
  EXPECT_NE(error_of(o).find("--seeds"), std::string::npos);
  o = valid();
  o.resume = o.overwrite = true;
  EXPECT_NE(error_of(o).find("--resume"), std::string::npos);
}

TEST(TrainOptions, SeedLists) {
  EXPECT_EQ(hpa::train::parse_seed_list("3"), (std::vector<int64_t>{3}));
  EXPECT_EQ(hpa::train::parse_seed_list("0,2-4,9"), (std::vector<int64_t>{0, 2, 3, 4, 9}));
  for (const char* bad : {"", ",", "1,,2", "a", "-1", "3-1", "1,1", "1.5", "2-"})
    EXPECT_THROW(hpa::train::parse_seed_list(bad), hpa::Error) << bad;
}

TEST(TrainOptions, SnapshotEpochLists) {
  using hpa::train::parse_snapshot_epochs;
  using V = std::vector<int64_t>;
  EXPECT_EQ(parse_snapshot_epochs("all", 3), (V{0, 1, 2, 3}));
  EXPECT_EQ(parse_snapshot_epochs("0-5,10,20-75:5", 75),
            (V{0, 1, 2, 3, 4, 5, 10, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75}));
  EXPECT_EQ(parse_snapshot_epochs("3", 10), (V{0, 3, 10}));          // 0 and the last are always kept
  EXPECT_EQ(parse_snapshot_epochs("2-9:3", 9), (V{0, 2, 5, 8, 9}));
  for (const char* bad : {"", ",", "1,,2", "a", "5,3", "5-3", "3,3", "0-10:0", "4:2", "1-", "12", "0-12", "1,2,"})
    try {
      parse_snapshot_epochs(bad, 10);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const hpa::Error& error) {
      EXPECT_NE(std::string(error.what()).find("--snapshot-epochs"), std::string::npos) << error.what();
    }
}

TEST(TrainOptions, CheckpointAndSnapshotOptions) {
  auto o = valid();
  o.checkpoint_minutes = 0;
  EXPECT_NE(error_of(o).find("--checkpoint-minutes"), std::string::npos);
  o.checkpoint_minutes = -5;
  EXPECT_NE(error_of(o).find("--checkpoint-minutes"), std::string::npos);
  o = valid();
  o.snapshot_params = "linear";
  EXPECT_NE(error_of(o).find("--snapshot-params"), std::string::npos);
  o = valid();
  o.snapshot_epochs_text = "7-2";
  EXPECT_NE(error_of(o).find("--snapshot-epochs"), std::string::npos);
}

TEST(TrainOptions, ResumeComparesEveryResultOption) {
  auto stored = valid(), wanted = valid();
  EXPECT_TRUE(hpa::train::differing_result_options(stored, wanted).empty());
  wanted.threads = 7;  // not an experiment option
  wanted.checkpoint_minutes = 5;
  EXPECT_TRUE(hpa::train::differing_result_options(stored, wanted).empty());
  wanted.lr = 0.5;
  wanted.dropout = 0.1;
  const auto differences = hpa::train::differing_result_options(stored, wanted);
  ASSERT_EQ(differences.size(), 2u);
  EXPECT_NE(differences[0].find("--dropout"), std::string::npos);
  EXPECT_NE(differences[1].find("(now 0.5)"), std::string::npos);
}

TEST(TrainOptions, DataVariantOptions) {
  for (double bad : {-0.1, 1.5, std::nan("")}) {
    auto o = valid();
    o.label_noise = bad;
    EXPECT_NE(error_of(o).find("--label-noise"), std::string::npos) << bad;
  }
  for (int64_t bad : {1, -2}) {
    auto o = valid();
    o.classes = bad;
    EXPECT_NE(error_of(o).find("--classes"), std::string::npos) << bad;
  }
  auto o = valid();
  o.flip = "sometimes";
  EXPECT_NE(error_of(o).find("--flip"), std::string::npos);
  // auto: off for MNIST-like data as in the paper's code, on for the rest.
  for (auto [dataset, flip] : {std::pair{"mnist", "off"}, std::pair{"fashion-mnist", "off"},
                               std::pair{"cifar10", "on"}, std::pair{"imagenet", "on"}}) {
    o = valid();
    o.dataset = dataset;
    hpa::train::validate(o);
    EXPECT_EQ(o.flip, flip) << dataset;
  }
  // Stored configurations: the resolved value is read back; runs from before --flip flipped.
  EXPECT_EQ(hpa::train::read_stored_options("dataset = mnist\nflip = off\n", "run.h5").flip, "off");
  EXPECT_EQ(hpa::train::read_stored_options("dataset = mnist\n", "run.h5").flip, "on");
  const auto read = hpa::train::read_stored_options(
      "label-noise = 0.25\nnoise-seed = 3\npixel-shuffle = true\nclasses = 5\nclass-seed = 9\n", "run.h5");
  EXPECT_EQ(read.label_noise, 0.25);
  EXPECT_EQ(read.noise_seed, 3);
  EXPECT_TRUE(read.pixel_shuffle);
  EXPECT_EQ(read.classes, 5);
  EXPECT_EQ(read.class_seed, 9);
  // --resume compares them; the seeds only where they are used.
  auto wanted = read;
  wanted.noise_seed = 4;
  wanted.class_seed = 10;
  wanted.flip = "off";
  EXPECT_EQ(hpa::train::differing_result_options(read, wanted).size(), 3u);
  auto plain = valid(), other_seeds = valid();
  other_seeds.noise_seed = 4;
  other_seeds.class_seed = 10;
  EXPECT_TRUE(hpa::train::differing_result_options(plain, other_seeds).empty());
}

TEST(Schedule, PaperSchedules) {
  hpa::train::Schedule step;
  step.base_lr = 0.01;
  EXPECT_DOUBLE_EQ(step.lr_at(1), 0.01);
  EXPECT_DOUBLE_EQ(step.lr_at(25), 0.01);
  EXPECT_NEAR(step.lr_at(26), 0.001, 1e-15);
  EXPECT_NEAR(step.lr_at(51), 0.0001, 1e-15);
  hpa::train::Schedule exp = step;
  exp.kind = hpa::train::ScheduleKind::exp;
  EXPECT_NEAR(exp.lr_at(26), 0.001, 1e-15);  // 10^(-1/25) per epoch: a factor 10 per 25 epochs
  EXPECT_NEAR(exp.lr_at(2), 0.01 * std::pow(10.0, -0.04), 1e-15);
  hpa::train::Schedule mult = step;
  mult.kind = hpa::train::ScheduleKind::mult;
  EXPECT_NEAR(mult.lr_at(3), 0.01 * 0.95 * 0.95, 1e-15);
  EXPECT_THROW(hpa::train::parse_schedule("cosine"), hpa::Error);
}

// Two ranks of one seed group on one GPU of one node: NCCL cannot run them; hpa-train refuses.
TEST(Device, RanksOfAGroupSharingAGpuAreFound) {
  using hpa::shared_gpu_in_group;
  // 4 ranks, 2 nodes (ids 0 and 2), one GPU per rank, groups of 2: fine.
  EXPECT_EQ(shared_gpu_in_group({0, 0, 2, 2}, {0, 0, 1, 1}, {0, 1, 0, 1}), "");
  // The same GPU index on two nodes, or in two groups, is no conflict.
  EXPECT_EQ(shared_gpu_in_group({0, 1}, {0, 0}, {0, 0}), "");
  EXPECT_EQ(shared_gpu_in_group({0, 0}, {0, 1}, {0, 0}), "");
  // 2 ranks of one group on a node with one GPU (local rank % 1 = 0 for both).
  EXPECT_EQ(shared_gpu_in_group({0, 0}, {0, 0}, {0, 0}), "ranks 0 and 1 of seed group 0 share GPU 0 of their node");
  EXPECT_EQ(shared_gpu_in_group({0, 0, 0, 0}, {0, 0, 1, 1}, {0, 1, 0, 0}),
            "ranks 2 and 3 of seed group 1 share GPU 0 of their node");
}

}  // namespace
