// Training of one seed into the run directory: epoch 0 (the init) snapshotted before any step,
// then per epoch SGD over the group's share of each global batch, gradients summed over the group,
// evaluation, statistics, snapshot and checkpoint. Side tasks hang off the end of each epoch.
#pragma once

#include "comm/communicator.hpp"
#include "data/batches.hpp"
#include "data/dataset.hpp"
#include "experiment/schedule.hpp"
#include "experiment/spec.hpp"
#include "models/architectures.hpp"
#include "store/run_directory.hpp"

#include <c10/core/Device.h>

#include <fstream>
#include <ostream>

namespace hpa::train {

using experiment::Schedule;
using experiment::TrainOptions;

struct TrainContext {
  const experiment::TrainOptions& options;
  const data::Dataset& dataset;
  const comm::Group& group;
  models::ModelSpec spec;
  models::InitScheme init = models::InitScheme::paper;
  c10::Device device = c10::kCPU;
  std::ostream* log = nullptr;            // progress lines; null on ranks that stay quiet
  std::ofstream* loss_log = nullptr;      // per-step losses; null unless --loss-log on this rank
  std::ofstream* sample_log = nullptr;    // per-step global batches; null unless --sample-log on this rank
  int64_t* epochs_left_in_job = nullptr;  // for the ETA across seeds; resumed epochs are taken off
  int64_t* epochs_done_in_job = nullptr;
  double job_start_s = 0;
  data::LoaderOptions loader{};  // threads and look-ahead of every batch loader
};

// The names of the metrics every epoch file holds.
std::vector<std::string> metric_names();

// The model/layers table of a model (conv layers, 1x1 skipped, paper numbering).
std::vector<store::LayerRecord> layer_records(models::ConvNetImpl& model);

// Every rank of the group: trains `seed`, continuing from the checkpoint (also one inside an epoch)
// under --resume. True when all epochs are done; false when the group stopped on SIGUSR2 or SIGTERM
// after writing a checkpoint.
bool train_seed(const TrainContext& context, int64_t seed);


}  // namespace hpa::train
