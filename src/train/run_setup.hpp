// What hpa-train does around the training loop: launch checks, loading the data, creating or
// reopening the run directory (refusing to clobber it), splitting ranks into seed groups, and
// handing each group its seeds.
#pragma once

#include "comm/communicator.hpp"
#include "data/dataset.hpp"
#include "experiment/spec.hpp"
#include "models/architectures.hpp"

#include <c10/core/Device.h>

#include <memory>
#include <string>

namespace hpa::train {

using experiment::TrainOptions;

struct Job {
  std::unique_ptr<data::Dataset> dataset;
  models::ModelSpec spec;
  models::InitScheme init = models::InitScheme::paper;
  std::string config_text;
  int num_groups = 1;
  c10::Device device = c10::kCPU;  // this rank's (select_rank_device, before anything touched a GPU)
  int threads = 1;                 // compute threads per rank (choose_threads)
};

// Every rank: refuses a launch whose world size differs from SLURM_NTASKS (Open MPI + srun can
// start N singletons instead of one N-rank job).
void check_launch(const comm::World& world);

// Every rank: loads the dataset and checks that the model fits it and that --out may be used.
// `device` and `threads` are this rank's, chosen before (the device before any GPU allocation).
Job prepare_job(const TrainOptions& options, const comm::World& world, std::string config_text, c10::Device device,
                int threads);

// Every rank: creates (or, with --resume, checks) the run directory and trains this rank's seeds.
// Returns 0 when every seed is done, kExitRequeue (75) when the job checkpointed on SIGUSR2 or
// SIGTERM and should be started again with --resume.
int run_job(const Job& job, const TrainOptions& options, const comm::World& world);

}  // namespace hpa::train
