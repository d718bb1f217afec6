// hpa-reinit-grid: the layer re-initialization grid of a trained run, farmed over MPI ranks.
#include "cli/options.hpp"
#include "comm/communicator.hpp"
#include "common/cpus.hpp"
#include "common/device.hpp"
#include "common/error.hpp"
#include "common/process.hpp"
#include "common/stop_request.hpp"
#include "reinit/job.hpp"

#include <ATen/Parallel.h>

#include <iostream>

namespace {

namespace po = boost::program_options;

int run(int argc, char** argv, hpa::comm::World& world) {
  hpa::reinit::GridOptions o;
  po::options_description description("options");
  description.add_options()("run", po::value(&o.run_dir), "run directory written by hpa-train (required)")(
      "epochs", po::value(&o.epochs_text)->default_value(o.epochs_text),
      "reset epochs: 'all' (every epoch whose parameters the run kept), or list and ranges, e.g. 0,1,2,5-10")(
      "rerandomize", po::value(&o.rerandomize)->default_value(o.rerandomize),
      "re-randomization draws per layer from the init distribution")(
      "memory-mb", po::value(&o.memory_mb)->default_value(o.memory_mb),
      "activation memory budget per rank (MiB): sizes --batch-size (at most 1000) and, on cuda, --stack-limit")(
      "batch-size", po::value(&o.batch_size)->default_value(o.batch_size),
      "test images per batch (0: what --memory-mb allows, at most 1000)")(
      "stack-limit", po::value(&o.stack_limit)->default_value(o.stack_limit),
      "fused: most images (variants x batch) pushed through the network at once (0: cpu one batch, cuda from --memory-mb)")(
      "cells-per-item", po::value(&o.cells_per_item)->default_value(o.cells_per_item),
      "cells (reset epochs and re-randomizations of one layer) per work item (0: sized per layer so that "
      "every rank stays busy; a layer whose prefix dominates is not split)")(
      "device", po::value(&o.device)->default_value(o.device),
      "cpu or cuda (the GPU local_rank % GPUs per node)")(
      "tf32", hpa::cli::flag(&o.tf32),
      "cuda: TF32 products in cuDNN convolutions (PyTorch's default; false: full fp32, as on the CPU)")(
      "naive", hpa::cli::flag(&o.naive),
      "evaluate every cell with its own full forward pass (reference; slower)")(
      "data-dir", po::value(&o.data_dir)->default_value(""),
      "dataset folder (default: the one the run was trained from)")(
      "flush-seconds", po::value(&o.flush_seconds)->default_value(o.flush_seconds),
      "rewrite RUN/reinit.h5 at least this often while results come in")(
      "threads", po::value(&o.threads)->default_value(o.threads),
      "compute threads per rank (0: SLURM_CPUS_PER_TASK, else the CPUs the rank is bound to, else cores / "
      "ranks on the node); more than the rank's CPUs is refused")(
      "oversubscribe-threads", hpa::cli::flag(&o.oversubscribe_threads),
      "allow more compute threads than the CPUs this rank may run on (its affinity mask)")(
      "overwrite", hpa::cli::flag(&o.overwrite),
      "ignore and replace an existing RUN/reinit.h5 (default: resume it)")(
      "simulate-ranks", po::value(&o.simulate_ranks)->default_value(o.simulate_ranks),
      "N > 0: time each layer's prefix and suffix on this machine, simulate the farm's schedule of the grid "
      "on N ranks and print how busy they stay; evaluates no cell, writes nothing")(
      "simulate-seeds", po::value(&o.simulate_seeds)->default_value(o.simulate_seeds),
      "seeds of the simulated grid (0: the run's)");
  po::positional_options_description positional;
  positional.add("run", 1);
  const hpa::cli::ParseResult parsed = hpa::cli::parse(argc, argv, description, positional);
  if (parsed.help_requested) {
    if (world.is_world_root())
      std::cout << hpa::cli::help_text(
          "[mpirun -np N] hpa-reinit-grid RUN [--epochs LIST] [--rerandomize R] [--batch-size B] [--naive]",
          "For every seed of RUN, every conv layer and every chosen epoch: top-1 test accuracy of the final\n"
          "model with that layer's weight and bias reset to their value at that epoch, plus R re-draws from\n"
          "the init distribution, and the relative drop against the unchanged model. Rank 0 hands out\n"
          "(seed, layer, chunk of cells) items, longest first, works on them too and writes\n"
          "RUN/reinit.h5; a restarted job evaluates only what is missing.",
          description);
    return 0;
  }
  HPA_REQUIRE(!o.run_dir.empty(), "give the run directory (see --help)");
  o.config_text = hpa::cli::resolved_config(parsed.values);
  HPA_REQUIRE(o.threads >= 0, "--threads must be >= 0, got " << o.threads);
  // Before anything else touches a GPU or starts threads (every rank).
  const c10::Device device = hpa::select_rank_device(o.device, world.local_rank(), "--device", {o.tf32, false});
  const hpa::ThreadChoice threads =
      hpa::choose_threads(o.threads, world.local_size(), o.oversubscribe_threads, world.rank_label());
  at::set_num_threads(threads.threads);
  o.threads = threads.threads;
  world.print_from_every_rank(hpa::placement_line(world.rank_label(), world.local_rank(), world.local_size(), threads,
                                                 hpa::describe_device(device)),
                              std::cout);
  return hpa::reinit::run_grid(o, world, device) ? 0 : hpa::kExitRequeue;
}

}  // namespace

int main(int argc, char** argv) {
  hpa::tune_allocator();
  hpa::comm::World world(argc, argv);
  hpa::install_stop_handlers();  // SIGUSR2 / SIGTERM: keep what is done and exit 75, at any point
  const int code = hpa::cli::run_guarded("hpa-reinit-grid", [&] { return run(argc, argv, world); });
  if (code != 0 && code != hpa::kExitRequeue && world.world_size() > 1) hpa::comm::World::abort_world(code);
  return code;
}
