// hpa-reinit-grid: the layer re-initialization grid of a trained run, farmed over MPI ranks.
#include "cli/options.hpp"
#include "comm/communicator.hpp"
#include "common/cpus.hpp"
#include "common/device.hpp"
#include "common/error.hpp"
#include "common/process.hpp"
#include "common/stop_request.hpp"
#include "experiment/grid_options.hpp"
#include "reinit/job.hpp"

#include <ATen/Parallel.h>

#include <iostream>

namespace {

namespace po = boost::program_options;

int run(int argc, char** argv, hpa::comm::World& world) {
  hpa::experiment::GridOptions o;
  po::options_description description = hpa::experiment::describe_grid_options(o);
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
  hpa::experiment::validate_grid_options(o);
  o.config_text = hpa::cli::resolved_config(parsed.values);
  // Before anything else touches a GPU or starts threads (every rank).
  const c10::Device device = hpa::select_rank_device(hpa::experiment::device_kind_name(o.device),
                                                     world.local_rank(), "--device", {o.tf32, false});
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
