// What hpa-train does around the training loop: launch checks, loading the data, creating or
// reopening the run directory (refusing to clobber it), splitting ranks into seed groups, and
// handing each group its seeds.
#pragma once

#include "comm/communicator.hpp"
#include "data/dataset.hpp"
#include "models/architectures.hpp"
#include "train/options.hpp"

#include <c10/core/Device.h>

#include <memory>
#include <string>

namespace hpa::train {

struct Job {
  std::unique_ptr<data::Dataset> dataset;
  models::ModelSpec spec;
  models::InitScheme init = models::InitScheme::paper;
  std::string config_text;
  int num_groups = 1;
};

// The dataset as a run with `options` sees it: loaded from `data_dir`, cut to --train-subset and
// --test-subset, restricted to --classes. Throws naming the file or option at fault.
std::unique_ptr<data::Dataset> load_run_dataset(const TrainOptions& options, const std::string& data_dir);

// A seed's samples: its validation split and normalization; the training split augmented, with
// --label-noise and --pixel-shuffle applied to it alone; validation and test as they are.
struct SeedSamples {
  std::unique_ptr<data::SampleSet> train, validation, test;
};
SeedSamples seed_samples(const data::Dataset& dataset, const TrainOptions& options, int64_t seed);

// The device of this rank for --device `name` (cpu, or cuda: the GPU local_rank % GPUs on its
// node); throws naming --device when this LibTorch has no CUDA or sees no GPU.
c10::Device rank_device(const std::string& name, const comm::World& world);

// Every rank: refuses a launch whose world size differs from SLURM_NTASKS (Open MPI + srun can
// start N singletons instead of one N-rank job).
void check_launch(const comm::World& world);

// Every rank: loads the dataset and checks that the model fits it and that --out may be used.
Job prepare_job(const TrainOptions& options, const comm::World& world, std::string config_text);

// Every rank: creates (or, with --resume, checks) the run directory and trains this rank's seeds.
// Returns 0 when every seed is done, kExitRequeue (75) when the job checkpointed on SIGUSR2 or
// SIGTERM and should be started again with --resume.
int run_job(const Job& job, const TrainOptions& options, const comm::World& world);

}  // namespace hpa::train
