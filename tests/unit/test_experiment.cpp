// The typed experiment (hpa-train's options): checks, the --resume comparison, run.h5's typed
// attributes and the stored text of older runs; and the learning-rate schedules.
#include "cli/options.hpp"
#include "common/device.hpp"
#include "common/error.hpp"
#include "experiment/schedule.hpp"
#include "experiment/spec.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

namespace {

using hpa::experiment::TrainOptions;

std::string error_of(TrainOptions options) {
  try {
    hpa::experiment::validate(options);
  } catch (const hpa::Error& error) {
    return error.what();
  }
  return "";
}

TrainOptions valid() {
  TrainOptions options;
  options.run.out = "/tmp/run";
  return options;
}

// The options hpa-train parses from `args` (after the program name), validated.
TrainOptions parsed(std::vector<const char*> args) {
  TrainOptions options;
  auto description = hpa::experiment::describe_train_options(options);
  args.insert(args.begin(), "hpa-train");
  hpa::cli::parse(static_cast<int>(args.size()), args.data(), description,
                  boost::program_options::positional_options_description());
  hpa::experiment::validate(options);
  return options;
}

std::string parse_error(std::vector<const char*> args) {
  try {
    parsed(std::move(args));
  } catch (const hpa::Error& error) {
    return error.what();
  }
  return "";
}

// A stored run with this configuration text and no typed attributes: a run of hpa before them.
hpa::experiment::ExperimentSpec stored_text(const std::string& config) {
  hpa::store::RunDescription run;
  run.config_text = config;
  run.init = "torchvision";
  return hpa::experiment::stored_spec(run, "run.h5");
}

TEST(TrainOptions, BadValuesNameTheirOption) {
  auto o = valid();
  EXPECT_EQ(error_of(o), "");
  o = valid();
  o.run.out = "";
  EXPECT_NE(error_of(o).find("--out"), std::string::npos);
  o = valid();
  o.spec.epochs = -1;
  EXPECT_NE(error_of(o).find("--epochs"), std::string::npos);
  o = valid();
  o.spec.lr = 0;
  EXPECT_NE(error_of(o).find("--lr"), std::string::npos);
  o = valid();
  o.spec.lr = -0.1;
  EXPECT_NE(error_of(o).find("--lr"), std::string::npos);
  o = valid();
  o.spec.width = 0;
  EXPECT_NE(error_of(o).find("--width"), std::string::npos);
  for (double width : {16.5, std::nan(""), HUGE_VAL}) {  // run.h5 is read back with the same bound
    o = valid();
    o.spec.width = width;
    EXPECT_NE(error_of(o).find("--width must be in (0, 16]"), std::string::npos) << width;
  }
  o = valid();
  o.spec.width = 16;
  EXPECT_EQ(error_of(o), "");
  o = valid();
  o.spec.batch_size = 0;
  EXPECT_NE(error_of(o).find("--batch-size"), std::string::npos);
  o = valid();
  o.spec.momentum = 1;
  EXPECT_NE(error_of(o).find("--momentum"), std::string::npos);
  o = valid();
  o.spec.val_fraction = 1;
  EXPECT_NE(error_of(o).find("--val-fraction"), std::string::npos);
  EXPECT_NE(parse_error({"--out", "r", "--seeds", ""}).find("--seeds"), std::string::npos);
  o = valid();
  o.run.resume = o.run.overwrite = true;
  EXPECT_NE(error_of(o).find("--resume"), std::string::npos);
}

TEST(TrainOptions, SeedLists) {
  EXPECT_EQ(hpa::experiment::parse_seed_list("3"), (std::vector<int64_t>{3}));
  EXPECT_EQ(hpa::experiment::parse_seed_list("0,2-4,9"), (std::vector<int64_t>{0, 2, 3, 4, 9}));
  for (const char* bad : {"", ",", "1,,2", "a", "-1", "3-1", "1,1", "1.5", "2-"})
    EXPECT_THROW(hpa::experiment::parse_seed_list(bad), hpa::Error) << bad;
}

TEST(TrainOptions, SnapshotEpochLists) {
  using hpa::experiment::parse_snapshot_epochs;
  using V = std::vector<int64_t>;
  EXPECT_EQ(parse_snapshot_epochs("all", 3), (V{0, 1, 2, 3}));
  EXPECT_EQ(parse_snapshot_epochs("0-5,10,20-75:5", 75),
            (V{0, 1, 2, 3, 4, 5, 10, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75}));
  EXPECT_EQ(parse_snapshot_epochs("3", 10), (V{0, 3, 10}));  // 0 and the last are always kept
  EXPECT_EQ(parse_snapshot_epochs("2-9:3", 9), (V{0, 2, 5, 8, 9}));
  for (const char* bad :
       {"", ",", "1,,2", "a", "5,3", "5-3", "3,3", "0-10:0", "4:2", "1-", "12", "0-12", "1,2,"})
    try {
      parse_snapshot_epochs(bad, 10);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const hpa::Error& error) {
      EXPECT_NE(std::string(error.what()).find("--snapshot-epochs"), std::string::npos) << error.what();
    }
}

TEST(TrainOptions, CheckpointAndSnapshotOptions) {
  auto o = valid();
  o.run.checkpoint_minutes = 0;
  EXPECT_NE(error_of(o).find("--checkpoint-minutes"), std::string::npos);
  o.run.checkpoint_minutes = -5;
  EXPECT_NE(error_of(o).find("--checkpoint-minutes"), std::string::npos);
  EXPECT_NE(parse_error({"--out", "r", "--snapshot-params", "linear"}).find("--snapshot-params"),
            std::string::npos);
  o = valid();
  o.spec.snapshot_epochs_text = "7-2";
  EXPECT_NE(error_of(o).find("--snapshot-epochs"), std::string::npos);
}

TEST(TrainOptions, ResumeComparesEveryResultOption) {
  auto stored = valid(), wanted = valid();
  using hpa::experiment::differences;
  EXPECT_TRUE(differences(stored.spec, wanted.spec).empty());
  wanted.run.threads = 7;  // not an experiment option
  wanted.run.checkpoint_minutes = 5;
  EXPECT_TRUE(differences(stored.spec, wanted.spec).empty());
  wanted.spec.lr = 0.5;
  wanted.spec.dropout = 0.1;
  const auto found = differences(stored.spec, wanted.spec);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_NE(found[0].find("--dropout"), std::string::npos);
  EXPECT_NE(found[1].find("(now 0.5)"), std::string::npos);
}

TEST(TrainOptions, DataVariantOptions) {
  for (double bad : {-0.1, 1.5, std::nan("")}) {
    auto o = valid();
    o.spec.label_noise = bad;
    EXPECT_NE(error_of(o).find("--label-noise"), std::string::npos) << bad;
  }
  for (int64_t bad : {1, -2}) {
    auto o = valid();
    o.spec.classes = bad;
    EXPECT_NE(error_of(o).find("--classes"), std::string::npos) << bad;
  }
  EXPECT_NE(parse_error({"--out", "r", "--flip", "sometimes"}).find("--flip"), std::string::npos);
  // auto: off for MNIST-like data as in the paper's code, on for the rest.
  for (auto [dataset, flip] : {std::pair{"mnist", "off"}, std::pair{"fashion-mnist", "off"},
                               std::pair{"cifar10", "on"}, std::pair{"imagenet", "on"}}) {
    const TrainOptions o = parsed({"--out", "r", "--dataset", dataset});
    EXPECT_EQ(hpa::experiment::flip_name(o.spec.flip), flip) << dataset;
  }
  // Stored configurations: the resolved value is read back; runs from before --flip flipped.
  EXPECT_EQ(stored_text("dataset = mnist\nflip = off\n").flip, hpa::experiment::Flip::off);
  EXPECT_EQ(stored_text("dataset = mnist\n").flip, hpa::experiment::Flip::on);
  const auto read =
      stored_text("label-noise = 0.25\nnoise-seed = 3\npixel-shuffle = true\nclasses = 5\nclass-seed = 9\n");
  EXPECT_EQ(read.label_noise, 0.25);
  EXPECT_EQ(read.noise_seed, 3);
  EXPECT_TRUE(read.pixel_shuffle);
  EXPECT_EQ(read.classes, 5);
  EXPECT_EQ(read.class_seed, 9);
  // --resume compares them; the seeds only where they are used.
  auto wanted = read;
  wanted.noise_seed = 4;
  wanted.class_seed = 10;
  wanted.flip = hpa::experiment::Flip::off;
  EXPECT_EQ(hpa::experiment::differences(read, wanted).size(), 3u);
  auto plain = valid(), other_seeds = valid();
  other_seeds.spec.noise_seed = 4;
  other_seeds.spec.class_seed = 10;
  EXPECT_TRUE(hpa::experiment::differences(plain.spec, other_seeds.spec).empty());
}

// The spec as run.h5 stores it (typed attributes) reads back as the same experiment, and so does
// the configuration text hpa-train writes beside it.
TEST(Experiment, AttributesAndConfigTextRoundTrip) {
  const TrainOptions o = parsed({"--out",
                                 "r",
                                 "--arch",
                                 "vgg11",
                                 "--init",
                                 "paper",
                                 "--width",
                                 "0.25",
                                 "--dataset",
                                 "cifar10",
                                 "--flip",
                                 "off",
                                 "--label-noise",
                                 "0.5",
                                 "--noise-seed",
                                 "7",
                                 "--normalize",
                                 "symmetric",
                                 "--lr-schedule",
                                 "exp",
                                 "--seeds",
                                 "0-2,5",
                                 "--snapshot-params",
                                 "conv",
                                 "--snapshot-epochs",
                                 "0-3,5",
                                 "--epochs",
                                 "5",
                                 "--stratified",
                                 "--precision",
                                 "bf16",
                                 "--memory-format",
                                 "channels-last",
                                 "--threads",
                                 "3"});
  const hpa::store::Attributes attributes = hpa::experiment::spec_attributes(o.spec);
  EXPECT_EQ(std::get<std::string>(attributes.at("precision")), "bf16");
  EXPECT_EQ(std::get<std::string>(attributes.at("memory-format")), "channels-last");
  EXPECT_EQ(std::get<std::string>(attributes.at("arch")), "vgg11");
  EXPECT_EQ(std::get<double>(attributes.at("width")), 0.25);
  EXPECT_EQ(std::get<int64_t>(attributes.at("stratified")), 1);
  EXPECT_EQ(std::get<std::vector<int64_t>>(attributes.at("seeds")), (std::vector<int64_t>{0, 1, 2, 5}));
  EXPECT_EQ(attributes.count("threads"), 0u);  // how it runs is not the experiment
  const auto back = hpa::experiment::spec_from_attributes(attributes, "run.h5");
  EXPECT_TRUE(hpa::experiment::differences(o.spec, back).empty());
  EXPECT_EQ(back.lr_schedule, hpa::experiment::ScheduleKind::exp);
  EXPECT_EQ(back.normalize, hpa::data::NormalizationKind::symmetric);
  EXPECT_EQ(back.precision, hpa::models::Precision::bf16);
  EXPECT_EQ(back.memory_format, hpa::models::MemoryFormat::channels_last);
  // A run written before the fields existed lacks them: fp32 and contiguous, what it trained with.
  hpa::store::Attributes older = attributes;
  older.erase("precision");
  older.erase("memory-format");
  const auto old_spec = hpa::experiment::spec_from_attributes(older, "run.h5");
  EXPECT_EQ(old_spec.precision, hpa::models::Precision::fp32);
  EXPECT_EQ(old_spec.memory_format, hpa::models::MemoryFormat::contiguous);
  const std::string text = hpa::experiment::config_text(o);
  EXPECT_NE(text.find("seeds = 0-2,5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("threads = 3\n"), std::string::npos) << text;
  EXPECT_TRUE(hpa::experiment::differences(o.spec, stored_text(text)).empty());
  EXPECT_EQ(hpa::experiment::seed_list_text({0, 1, 2, 5, 7, 8}), "0-2,5,7-8");
}

// A damaged or foreign /experiment group: one error naming the file and the attribute.
TEST(Experiment, MalformedAttributesNameTheirAttribute) {
  const auto error_of_attributes = [](const hpa::store::Attributes& attributes) -> std::string {
    try {
      hpa::experiment::spec_from_attributes(attributes, "r/run.h5");
    } catch (const hpa::Error& error) {
      return error.what();
    }
    return "";
  };
  EXPECT_EQ(error_of_attributes({{"epochs", int64_t{3}}}), "");
  EXPECT_EQ(error_of_attributes({{"epochs", std::string("3")}}),
            "r/run.h5: attribute experiment/epochs has the wrong type");
  EXPECT_NE(error_of_attributes({{"arch", std::string("resnet")}})
                .find("r/run.h5: attribute experiment/arch: unknown architecture 'resnet'"),
            std::string::npos);
  EXPECT_NE(error_of_attributes({{"flip", int64_t{1}}}).find("experiment/flip has the wrong type"),
            std::string::npos);
  hpa::store::RunDescription run;
  run.init = "torchvision";
  run.experiment = {{"epochs", int64_t{0}}};
  try {
    hpa::experiment::stored_spec(run, "r/run.h5");
    ADD_FAILURE() << "accepted epochs 0";
  } catch (const hpa::Error& error) {
    EXPECT_NE(std::string(error.what()).find("r/run.h5: the stored experiment is invalid: --epochs"),
              std::string::npos);
  }
}

TEST(Schedule, PaperSchedules) {
  hpa::experiment::Schedule step;
  step.base_lr = 0.01;
  EXPECT_DOUBLE_EQ(step.lr_at(1), 0.01);
  EXPECT_DOUBLE_EQ(step.lr_at(25), 0.01);
  EXPECT_NEAR(step.lr_at(26), 0.001, 1e-15);
  EXPECT_NEAR(step.lr_at(51), 0.0001, 1e-15);
  hpa::experiment::Schedule exp = step;
  exp.kind = hpa::experiment::ScheduleKind::exp;
  EXPECT_NEAR(exp.lr_at(26), 0.001, 1e-15);  // 10^(-1/25) per epoch: a factor 10 per 25 epochs
  EXPECT_NEAR(exp.lr_at(2), 0.01 * std::pow(10.0, -0.04), 1e-15);
  hpa::experiment::Schedule mult = step;
  mult.kind = hpa::experiment::ScheduleKind::mult;
  EXPECT_NEAR(mult.lr_at(3), 0.01 * 0.95 * 0.95, 1e-15);
  EXPECT_THROW(hpa::experiment::parse_schedule("cosine"), hpa::Error);
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
  EXPECT_EQ(shared_gpu_in_group({0, 0}, {0, 0}, {0, 0}),
            "ranks 0 and 1 of seed group 0 share GPU 0 of their node");
  EXPECT_EQ(shared_gpu_in_group({0, 0, 0, 0}, {0, 0, 1, 1}, {0, 1, 0, 0}),
            "ranks 2 and 3 of seed group 1 share GPU 0 of their node");
}

// hpa-reinit-grid's default --memory-mb on a GPU divides its free memory among the node's ranks on it.
TEST(Device, RanksSharingAGpuAreCounted) {
  using hpa::ranks_sharing_gpu;
  EXPECT_EQ(ranks_sharing_gpu(0, 1, 1), 1);
  EXPECT_EQ(ranks_sharing_gpu(1, 4, 4), 1);  // one rank per GPU
  EXPECT_EQ(ranks_sharing_gpu(0, 4, 1), 4);  // four ranks on one GPU
  EXPECT_EQ(ranks_sharing_gpu(1, 5, 2), 2);  // ranks 1 and 3 on GPU 1; 0, 2 and 4 on GPU 0
  EXPECT_EQ(ranks_sharing_gpu(2, 5, 2), 3);
  EXPECT_EQ(ranks_sharing_gpu(0, 3, 0), 1);  // no GPU seen: no division
  EXPECT_FALSE(hpa::free_device_memory(c10::kCPU).has_value());
}

}  // namespace
