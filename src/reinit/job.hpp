// hpa-reinit-grid around the evaluation kernels: reading the run, choosing the cells, handing
// (seed, layer, chunk of cells) work items to the MPI farm, and keeping RUN/reinit.h5 current and resumable.
#pragma once

#include "comm/communicator.hpp"
#include "experiment/grid_options.hpp"

#include <c10/core/Device.h>

#include <cstdint>
#include <string>

namespace hpa::reinit {

using experiment::GridOptions;

// Every rank: evaluates the missing cells of the grid on `device` (this rank's, chosen before any
// GPU allocation) and writes RUN/reinit.h5 (rank 0). Returns true when the grid is complete, false
// when it stopped on SIGUSR2 or SIGTERM (every finished item written; run again to continue).
bool run_grid(const GridOptions& options, const comm::World& world, c10::Device device);

// "0,1,2,5-10" -> sorted, unique epochs; throws naming --epochs when malformed or empty.
std::vector<int64_t> parse_epoch_list(const std::string& text, int64_t max_epoch);

}  // namespace hpa::reinit
