// hpa-reinit-grid around the evaluation kernels: reading the run, choosing the cells, handing
// (seed, layer, chunk of cells) work items to the MPI farm, and keeping RUN/reinit.h5 current and resumable.
#pragma once

#include "comm/communicator.hpp"

#include <c10/core/Device.h>

#include <cstdint>
#include <string>

namespace hpa::reinit {

struct GridOptions {
  std::string run_dir;
  std::string epochs_text = "all";  // or a list such as "0,1,5-10"
  int64_t rerandomize = 1;
  int64_t batch_size = 0;   // 0: from memory_mb
  int64_t stack_limit = 0;  // 0: from memory_mb
  int64_t memory_mb = 2048;
  int64_t cells_per_item = 0;  // 0: sized per layer for the rank count
  std::string device = "cpu";
  bool tf32 = true;  // CUDA: TF32 in cuDNN convolutions (common/device.hpp)
  bool naive = false;
  int64_t simulate_ranks = 0;  // > 0: measure this machine, simulate the farm on that many ranks, write nothing
  int64_t simulate_seeds = 0;  // seeds of the simulated grid (0: the run's)
  std::string data_dir;  // empty: the run's own --data-dir
  double flush_seconds = 60.0;
  int64_t threads = 0;  // compute threads per rank, resolved by the caller (choose_threads)
  bool oversubscribe_threads = false;
  bool overwrite = false;
  std::string config_text;  // the resolved options, stored in reinit.h5
};

// Every rank: evaluates the missing cells of the grid on `device` (this rank's, chosen before any
// GPU allocation) and writes RUN/reinit.h5 (rank 0). Returns true when the grid is complete, false
// when it stopped on SIGUSR2 or SIGTERM (every finished item written; run again to continue).
bool run_grid(const GridOptions& options, const comm::World& world, c10::Device device);

// "0,1,2,5-10" -> sorted, unique epochs; throws naming --epochs when malformed or empty.
std::vector<int64_t> parse_epoch_list(const std::string& text, int64_t max_epoch);

}  // namespace hpa::reinit
