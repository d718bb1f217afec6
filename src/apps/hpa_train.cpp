// hpa-train: trains one or several seeds of a ConvNet (data-parallel inside each seed group) and
// writes the run directory of docs/run-format.md. Launch plainly, with mpirun, or with srun.
#include "cli/options.hpp"
#include "comm/communicator.hpp"
#include "common/build_info.hpp"
#include "common/cpus.hpp"
#include "common/device.hpp"
#include "common/error.hpp"
#include "common/process.hpp"
#include "common/stop_request.hpp"
#include "experiment/spec.hpp"
#include "train/run_setup.hpp"
#include "train/trainer.hpp"

#include <ATen/Parallel.h>

#include <csignal>
#include <iostream>

namespace {

namespace po = boost::program_options;

int run(int argc, char** argv, hpa::comm::World& world) {
  hpa::experiment::TrainOptions options;
  po::options_description description = hpa::experiment::describe_train_options(options);
  hpa::cli::ParseResult parsed =
      hpa::cli::parse(argc, argv, description, po::positional_options_description());
  if (parsed.help_requested) {
    if (world.is_world_root())
      std::cout << hpa::cli::help_text(
          "[mpirun -np N | srun] hpa-train --out RUN [--config jobs/X.cfg] [options]",
          "Trains ConvNets with SGD and keeps every epoch's weights, metrics and projection statistics\n"
          "in the run directory RUN (RUN/run.h5 opens the whole run in h5py). Ranks split into seed\n"
          "groups; each group trains one seed data-parallel.",
          description);
    return 0;
  }
  hpa::experiment::validate(options);  // also resolves --flip auto, so the run stores what it resolved to
  hpa::train::check_launch(world);
  // Before anything else touches a GPU or starts threads (every rank).
  const c10::Device device =
      hpa::select_rank_device(hpa::experiment::device_kind_name(options.run.device), world.local_rank(),
                              "--device", {options.run.tf32, options.run.deterministic});
  const hpa::ThreadChoice threads = hpa::choose_threads(
      options.run.threads, world.local_size(), options.run.oversubscribe_threads, world.rank_label());
  at::set_num_threads(threads.threads);
  world.print_from_every_rank(hpa::placement_line(world.rank_label(), world.local_rank(), world.local_size(), threads,
                                                 hpa::describe_device(device)),
                              std::cout);

  hpa::train::Job job =
      hpa::train::prepare_job(options, world, hpa::experiment::config_text(options), device, threads.threads);
  if (world.is_world_root()) {
    const std::vector<int64_t> shape = job.dataset->sample_shape();
    std::cout << "hpa-train " << hpa::build_info::hpa_version << ": "
              << hpa::models::arch_name(options.spec.arch) << " on "
              << hpa::data::dataset_name(options.spec.dataset) << " ("
              << job.dataset->size(hpa::data::Part::train) << " train, "
              << job.dataset->size(hpa::data::Part::test) << " test images of " << shape[0] << "x" << shape[1]
              << "x" << shape[2] << "), seeds " << hpa::experiment::seed_list_text(options.spec.seeds) << ", "
              << options.spec.epochs << " epochs, " << world.world_size() << " rank(s) in " << job.num_groups
              << " seed group(s), " << threads.threads << " thread(s) per rank\n";
  }
  if (options.run.dry_run) {
    if (world.is_world_root()) std::cout << "dry run: configuration is valid\n" << job.config_text;
    return 0;
  }
  const int code = hpa::train::run_job(job, options, world);
  if (code == hpa::kExitRequeue) {
    if (world.is_world_root())
      std::cout << "stopped on " << (hpa::stop_signal_number() == SIGTERM ? "SIGTERM" : "SIGUSR2")
                << ": checkpoint written; exit status " << code << " (continue with --resume)" << std::endl;
    return code;
  }
  if (world.is_world_root()) std::cout << "done: results in " << options.run.out << "/run.h5\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  hpa::tune_allocator();
  hpa::comm::World world(argc, argv);
  hpa::install_stop_handlers();  // SIGUSR2 / SIGTERM from now on: checkpoint at the next step, exit 75
  const int code = hpa::cli::run_guarded("hpa-train", [&] { return run(argc, argv, world); });
  // An error on one rank must end every rank now, not leave the others waiting in a collective.
  if (code != 0 && code != hpa::kExitRequeue && world.world_size() > 1)
    hpa::comm::World::abort_world(code);
  return code;
}
