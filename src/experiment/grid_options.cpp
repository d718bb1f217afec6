// hpa-reinit-grid's options; see grid_options.hpp.
#include "experiment/grid_options.hpp"

#include "cli/options.hpp"
#include "common/error.hpp"

#include <boost/program_options.hpp>

namespace hpa::experiment {

namespace po = boost::program_options;

po::options_description describe_grid_options(GridOptions& o) {
  po::options_description description("options");
  description.add_options()("run", po::value(&o.run_dir), "run directory written by hpa-train (required)")(
      "epochs", po::value(&o.epochs_text)->default_value(o.epochs_text),
      "reset epochs: 'all' (every epoch whose parameters the run kept), or list and ranges, e.g. 0,1,2,5-10")(
      "rerandomize", po::value(&o.rerandomize)->default_value(o.rerandomize),
      "re-randomization draws per layer from the init distribution")(
      "memory-mb", po::value(&o.memory_mb)->default_value(o.memory_mb),
      "activation memory budget per rank (MiB): sizes --batch-size (at most 1000) and, on cuda, "
      "--stack-limit (0: on cpu 2048, on cuda 3/4 of the GPU's free memory shared by the node's ranks on "
      "that GPU)")("batch-size", po::value(&o.batch_size)->default_value(o.batch_size),
                   "test images per batch (0: what --memory-mb allows, at most 1000)")(
      "stack-limit", po::value(&o.stack_limit)->default_value(o.stack_limit),
      "fused: most images (variants x batch) pushed through the network at once (0: cpu one batch, cuda from "
      "--memory-mb)")(
      "cells-per-item", po::value(&o.cells_per_item)->default_value(o.cells_per_item),
      "cells (reset epochs and re-randomizations of one layer) per work item (0: sized per layer so that "
      "every rank stays busy; a layer whose prefix dominates is not split)")(
      "device",
      po::value<std::string>()
          ->default_value(device_kind_name(o.device))
          ->notifier([&o](const std::string& name) { o.device = parse_device_kind(name); }),
      "cpu or cuda (the GPU local_rank % GPUs per node)")(
      "tf32", cli::flag(&o.tf32),
      "cuda: TF32 products in cuDNN convolutions (PyTorch's default; false: full fp32, as on the CPU)")(
      "precision",
      po::value<std::string>()
          ->default_value(precision_name(o.precision))
          ->notifier([&o](const std::string& name) { o.precision = parse_precision(name); }),
      "fp32, or bf16: autocast evaluation (convolutions and matrix products in bfloat16; the weights stay "
      "the run's float32 ones); counts may differ from fp32 by near ties, see docs/gpu.md")(
      "naive", cli::flag(&o.naive), "evaluate every cell with its own full forward pass (reference; slower)")(
      "data-dir", po::value(&o.data_dir)->default_value(""),
      "dataset folder (default: the one the run was trained from)")(
      "flush-seconds", po::value(&o.flush_seconds)->default_value(o.flush_seconds),
      "rewrite RUN/reinit.h5 at least this often while results come in")(
      "threads", po::value(&o.threads)->default_value(o.threads),
      "compute threads per rank (0: SLURM_CPUS_PER_TASK, else the CPUs the rank is bound to, else cores / "
      "ranks on the node); more than the rank's CPUs is refused")(
      "oversubscribe-threads", cli::flag(&o.oversubscribe_threads),
      "allow more compute threads than the CPUs this rank may run on (its affinity mask)")(
      "overwrite", cli::flag(&o.overwrite),
      "ignore and replace an existing RUN/reinit.h5 (default: resume it)")(
      "simulate-ranks", po::value(&o.simulate_ranks)->default_value(o.simulate_ranks),
      "N > 0: time each layer's prefix and suffix on this machine, simulate the farm's schedule of the grid "
      "on N ranks and print how busy they stay; evaluates no cell, writes nothing")(
      "simulate-seeds", po::value(&o.simulate_seeds)->default_value(o.simulate_seeds),
      "seeds of the simulated grid (0: the run's)");
  return description;
}

void validate_grid_options(const GridOptions& o) {
  HPA_REQUIRE(!o.run_dir.empty(), "give the run directory (see --help)");
  HPA_REQUIRE(o.threads >= 0, "--threads must be >= 0, got " << o.threads);
  HPA_REQUIRE(o.rerandomize >= 0 && o.rerandomize <= 1000,
              "--rerandomize must be in 0..1000, got " << o.rerandomize);
  HPA_REQUIRE(o.batch_size >= 0, "--batch-size must be >= 0 (0: from --memory-mb), got " << o.batch_size);
  HPA_REQUIRE(o.stack_limit >= 0, "--stack-limit must be >= 0 (0: from --memory-mb), got " << o.stack_limit);
  HPA_REQUIRE(o.memory_mb == 0 || (o.memory_mb >= 16 && o.memory_mb <= 16777216),
              "--memory-mb must be 0 (automatic) or in 16..16777216, got " << o.memory_mb);
  HPA_REQUIRE(o.cells_per_item >= 0,
              "--cells-per-item must be >= 0 (0: automatic), got " << o.cells_per_item);
  HPA_REQUIRE(o.simulate_ranks >= 0, "--simulate-ranks must be >= 0, got " << o.simulate_ranks);
  HPA_REQUIRE(o.simulate_seeds >= 0, "--simulate-seeds must be >= 0, got " << o.simulate_seeds);
}

}  // namespace hpa::experiment
