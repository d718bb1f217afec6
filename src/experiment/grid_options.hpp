// hpa-reinit-grid's options, beside hpa-train's (spec.hpp): the grid's axes and how the job runs.
// The experiment the grid evaluates is the run's own (stored_spec of its run.h5), never options.
#pragma once

#include "experiment/spec.hpp"

#include <boost/program_options/options_description.hpp>

#include <cstdint>
#include <string>

namespace hpa::experiment {

struct GridOptions {
  std::string run_dir;
  std::string epochs_text = "all";  // or a list such as "0,1,5-10"
  int64_t rerandomize = 1;
  int64_t batch_size = 0;   // 0: from memory_mb
  int64_t stack_limit = 0;  // 0: from memory_mb
  int64_t memory_mb = 0;    // 0: cpu 2048; cuda 3/4 of the GPU's free memory over the ranks sharing it
  int64_t cells_per_item = 0;  // 0: sized per layer for the rank count
  DeviceKind device = DeviceKind::cpu;
  bool tf32 = true;  // CUDA: TF32 in cuDNN convolutions (common/device.hpp)
  models::Precision precision = models::Precision::fp32;  // of the evaluation (not the run's training)
  bool naive = false;
  int64_t simulate_ranks =
      0;  // > 0: measure this machine, simulate the farm on that many ranks, write nothing
  int64_t simulate_seeds = 0;  // seeds of the simulated grid (0: the run's)
  std::string data_dir;        // empty: the run's own --data-dir
  double flush_seconds = 60.0;
  int64_t threads = 0;  // compute threads per rank, resolved by the caller (choose_threads)
  bool oversubscribe_threads = false;
  bool overwrite = false;
  std::string config_text;  // the resolved options, stored in reinit.h5
};

// The command-line and config-file description of every option (RUN is the positional "run").
boost::program_options::options_description describe_grid_options(GridOptions& options);

// Checks every value; throws hpa::Error naming the option at fault.
void validate_grid_options(const GridOptions& options);

}  // namespace hpa::experiment
