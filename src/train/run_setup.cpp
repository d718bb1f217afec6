// Job setup around the training loop.
#include "train/run_setup.hpp"

#include "comm/reduction.hpp"
#include "common/build_info.hpp"
#include "common/clock.hpp"
#include "common/device.hpp"
#include "common/error.hpp"
#include "common/stop_request.hpp"
#include "data/batches.hpp"
#include "experiment/run_data.hpp"
#include "models/parameters.hpp"
#include "store/run_directory.hpp"
#include "train/trainer.hpp"

#include <torch/version.h>

#include <cstdlib>
#include <ctime>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace hpa::train {
namespace {

// "name bytes" per data file: what --resume compares to tell the same data from other data.
std::string describe_data_files(const data::Dataset& dataset) {
  std::string text;
  for (const std::string& path : dataset.files()) {
    std::error_code error;
    const auto bytes = std::filesystem::file_size(path, error);
    text += std::filesystem::path(path).filename().string() + " " +
            (error ? std::string("unreadable") : std::to_string(bytes)) + "\n";
  }
  return text;
}

// The experiment as it runs: the init resolved (the architecture's default, or the run's own on --resume).
experiment::ExperimentSpec resolved_spec(const Job& job, const TrainOptions& options) {
  experiment::ExperimentSpec spec = options.spec;
  spec.init = job.init;
  return spec;
}

store::RunDescription describe_run(const Job& job, const TrainOptions& options, const comm::World& world) {
  models::ConvNet model = models::build_model(job.spec);
  store::RunDescription run;
  run.config_text = job.config_text;
  run.experiment = experiment::spec_attributes(resolved_spec(job, options));
  run.data_dir = options.run.data_dir;
  run.arch = models::arch_name(options.spec.arch);
  run.dataset = data::dataset_name(options.spec.dataset);
  run.init = models::init_scheme_name(job.init);
  run.data_files = describe_data_files(*job.dataset);
  run.snapshot_params = experiment::snapshot_params_name(options.spec.snapshot_params);
  run.snapshot_epochs = options.spec.snapshot_epochs;
  run.seeds = options.spec.seeds;
  run.epochs = options.spec.epochs;
  run.num_classes = job.spec.num_classes;
  run.in_channels = job.spec.in_channels;
  run.image_size = job.dataset->sample_shape()[1];
  run.width = job.spec.width;
  for (const auto& [name, tensor] : models::named_parameters(*model))
    run.params.push_back({name, tensor.sizes().vec()});
  run.layers = layer_records(*model);
  run.metrics = metric_names();
  run.versions = {{"hpa", build_info::hpa_version},
                  {"torch", TORCH_VERSION},
                  {"mpi", world.mpi_version()},
                  {"hdf5", store::hdf5_version()}};
  return run;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// --resume must continue the same experiment: every option that changes results has to agree, and
// the data files too (by name and size). The error lists every difference.
void check_resumable(const store::RunDescription& stored, const store::RunDescription& wanted, const Job& job,
                     const TrainOptions& options) {
  const std::string& out = options.run.out;
  HPA_REQUIRE(stored.num_classes == wanted.num_classes,
              "--resume: the model head of " << out << " has " << stored.num_classes
                                             << " classes, the dataset in --data-dir " << wanted.num_classes);
  HPA_REQUIRE(stored.image_size == wanted.image_size, "--resume: " << out << " was trained on images of side "
                                                                   << stored.image_size << ", now "
                                                                   << wanted.image_size);
  std::vector<std::string> differences = experiment::differences(
      experiment::stored_spec(stored, store::run_file_path(out)), resolved_spec(job, options));
  if (!stored.data_files.empty()) {  // runs of hpa before it recorded its data files: not compared
    const std::vector<std::string> before = lines_of(stored.data_files), now = lines_of(wanted.data_files);
    for (const std::string& line : before)
      if (std::find(now.begin(), now.end(), line) == now.end())
        differences.push_back("data file " + line + " bytes (now not in --data-dir " + options.run.data_dir +
                              ")");
    for (const std::string& line : now)
      if (std::find(before.begin(), before.end(), line) == before.end())
        differences.push_back("data file " + line + " bytes (not used before)");
  }
  if (!differences.empty()) {
    std::string list;
    for (const std::string& difference : differences) list += (list.empty() ? "" : ", ") + difference;
    HPA_FAIL("--resume: "
             << out << " holds a different experiment: " << list
             << " (its experiment is run.h5's group experiment; runs before it: the config attribute)");
  }
}

}  // namespace

void check_launch(const comm::World& world) {
  if (const char* tasks = std::getenv("SLURM_NTASKS")) {
    if (std::getenv("SLURM_STEP_ID") || std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK")) {
      const int expected = std::atoi(tasks);
      HPA_REQUIRE(expected <= 0 || expected == world.world_size(),
                  "launched with " << world.world_size() << " MPI rank(s) but SLURM_NTASKS=" << tasks
                                   << ": the ranks did not join one job (use srun --mpi=pmix or mpirun)");
    }
  }
}

Job prepare_job(const TrainOptions& options, const comm::World& world, std::string config_text, c10::Device device,
                int threads) {
  Job job;
  job.config_text = std::move(config_text);
  job.device = device;
  job.threads = threads;
  job.spec.arch = options.spec.arch;
  job.init = options.spec.init ? *options.spec.init : models::default_init_scheme(job.spec.arch);
  job.dataset = experiment::load_run_dataset(options.spec, options.run.data_dir);
  const data::NormalizationKind normalization = options.spec.normalization();
  if (normalization != data::NormalizationKind::dataset)  // fail early: imagenet on grey images
    data::constant_normalization(normalization, job.dataset->sample_shape()[0]);
  else if (job.dataset->decodes_images())
    job.dataset->normalization(normalization, {});  // refused with the reason
  const std::vector<int64_t> shape = job.dataset->sample_shape();
  job.spec.in_channels = shape[0];
  job.spec.num_classes = job.dataset->num_classes();
  // The bounds run.h5 is read with (store::read_run).
  HPA_REQUIRE(shape[0] <= store::kMaxInChannels && shape[1] <= store::kMaxImageSize &&
                  shape[2] <= store::kMaxImageSize && job.spec.num_classes <= store::kMaxClasses,
              "--dataset " << data::dataset_name(options.spec.dataset) << ": images of " << shape[0] << "x"
                           << shape[1] << "x" << shape[2] << " in " << job.spec.num_classes
                           << " classes exceed hpa's bounds (at most " << store::kMaxInChannels
                           << " channels, sides of " << store::kMaxImageSize << ", " << store::kMaxClasses
                           << " classes)");
  job.spec.width = options.spec.width;
  job.spec.dropout = options.spec.dropout;
  {
    models::ConvNet probe = models::build_model(job.spec);
    try {
      probe->check_input_size(shape[1], shape[2]);
    } catch (const Error& error) {
      HPA_FAIL("--arch " << models::arch_name(options.spec.arch) << " with --dataset "
                         << data::dataset_name(options.spec.dataset) << ": " << error.what());
    }
  }
  const int num_seeds = static_cast<int>(options.spec.seeds.size());
  const int world_size = world.world_size();
  // Seed groups: --ranks-per-seed, else as many ranks per seed as divide evenly (at least one).
  int ranks_per_seed = static_cast<int>(options.run.ranks_per_seed);
  if (ranks_per_seed == 0) {
    ranks_per_seed = std::max(1, world_size / num_seeds);
    while (world_size % ranks_per_seed != 0) --ranks_per_seed;
  }
  HPA_REQUIRE(world_size % ranks_per_seed == 0, "--ranks-per-seed " << ranks_per_seed
                                                                    << " does not divide the " << world_size
                                                                    << " ranks of the job");
  job.num_groups = world_size / ranks_per_seed;
  HPA_REQUIRE(job.num_groups <= num_seeds, "--ranks-per-seed " << ranks_per_seed << " on " << world_size
                                                               << " ranks makes " << job.num_groups
                                                               << " seed groups for " << num_seeds
                                                               << " seed(s): some ranks would idle");
  if (num_seeds % job.num_groups != 0 && world.is_world_root())
    std::cerr << "hpa-train: note: " << num_seeds << " seeds over " << job.num_groups
              << " seed groups: some groups train more seeds than others\n";

  // Rank 0's view decides: another rank looking later could see the folders rank 0 just made.
  if (device.is_cuda()) {
    HPA_REQUIRE(comm::nccl_built() || ranks_per_seed == 1,
                "--device cuda with " << ranks_per_seed
                                      << " ranks per seed needs the NCCL build (-DHPA_WITH_NCCL=ON)");
    // Every rank takes part; NCCL itself would fail later, in the middle of its setup.
    const std::string shared = shared_gpu_in_group(world.world_allgather(world.node_id()),
                                                   world.world_allgather(world.world_rank() / ranks_per_seed),
                                                   world.world_allgather(device.index()));
    HPA_REQUIRE(shared.empty(), "--device cuda: "
                                    << shared << "; NCCL needs one GPU per rank of a seed group: start at most "
                                                 "as many ranks per node as it has GPUs, or train one seed per "
                                                 "rank (--ranks-per-seed 1)");
  }
  const bool in_use =
      world.world_broadcast(world.is_world_root() ? store::run_directory_in_use(options.run.out) : 0, 0) != 0;
  HPA_REQUIRE(!in_use || options.run.resume || options.run.overwrite,
              "--out " << options.run.out
                       << " already holds a run: pass --resume to continue it or --overwrite to replace it");
  HPA_REQUIRE(!options.run.resume || in_use, "--resume: " << options.run.out << " holds no run to continue");
  if (options.run.resume && !options.spec.init) {
    // A resumed run keeps the init it started with, whatever today's default (rank 0 reads it).
    const int64_t stored =
        world.is_world_root()
            ? static_cast<int64_t>(models::parse_init_scheme(store::read_run(options.run.out).init))
            : 0;
    job.init = static_cast<models::InitScheme>(world.world_broadcast(stored, /*root=*/0));
  }
  return job;
}

int run_job(const Job& job, const TrainOptions& options, const comm::World& world) {
  store::RunDescription wanted = describe_run(job, options, world);
  const std::time_t created = static_cast<std::time_t>(world.world_broadcast(std::time(nullptr), /*root=*/0));
  char created_text[32];
  std::strftime(created_text, sizeof created_text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&created));
  wanted.created = created_text;
  if (world.is_world_root()) {  // rank 0 alone touches the directory layout
    if (options.run.resume) {
      check_resumable(store::read_run(options.run.out), wanted, job, options);
      store::remove_stale_temporaries(options.run.out);
    } else {
      if (options.run.overwrite) store::remove_run_outputs(options.run.out);
      if (std::filesystem::exists(options.run.out)) store::remove_stale_temporaries(options.run.out);
      store::create_run_folders(options.run.out, wanted);
    }
  }
  world.world_barrier();  // the folders exist (or rank 0 has aborted the job)
  if (!options.run.resume) {  // run.h5, created collectively by every rank
    store::FileComm file_comm;
    if (world.world_size() > 1) file_comm = {&world.native(), world.world_rank(), world.world_size()};
    store::create_run(options.run.out, wanted, file_comm);
  }
  world.world_barrier();  // run.h5 is in place before any epoch file is written

  const comm::Group group = world.split_groups(job.num_groups);
  // --loss-log and --sample-log: written by the world's root only; --resume appends (each seed marks
  // where it resumed, and rows after the mark supersede rows of the same seed, epoch and step).
  const auto open_log = [&](std::ofstream& log, const char* option, const std::string& path) {
    if (path.empty() || !world.is_world_root()) return;
    log.open(path, options.run.resume ? std::ios::app : std::ios::trunc);
    HPA_REQUIRE(log, option << " " << path << ": cannot open for writing");
  };
  std::ofstream loss_log, sample_log;
  open_log(loss_log, "--loss-log", options.run.loss_log);
  open_log(sample_log, "--sample-log", options.run.sample_log);
  int64_t epochs_done = 0;
  int64_t my_seeds = 0;
  for (size_t i = static_cast<size_t>(group.group_index()); i < options.spec.seeds.size();
       i += static_cast<size_t>(job.num_groups))
    ++my_seeds;
  TrainContext context{options, *job.dataset, group, job.spec, job.init};
  context.loader.threads =
      job.dataset->decodes_images()
          ? static_cast<int>(options.run.data_threads > 0 ? options.run.data_threads : job.threads)
          : 1;  // in-memory batches take one thread well ahead of training
  context.loader.batches_ahead = static_cast<int>(options.run.batches_ahead);
  context.loader.pin_memory = job.device.is_cuda();  // allocated by this thread, on its current device
  context.device = job.device;
  context.log = world.is_world_root() ? &std::cout : nullptr;
  context.loss_log = loss_log.is_open() ? &loss_log : nullptr;
  context.sample_log = sample_log.is_open() ? &sample_log : nullptr;
  int64_t epochs_left = my_seeds * options.spec.epochs;
  context.epochs_left_in_job = &epochs_left;
  context.epochs_done_in_job = &epochs_done;
  context.job_start_s = wall_seconds();
  bool stopped = false;
  for (size_t i = static_cast<size_t>(group.group_index()); i < options.spec.seeds.size() && !stopped;
       i += static_cast<size_t>(job.num_groups))
    stopped = !train_seed(context, options.spec.seeds[i]);
  // Every rank: a group that stopped makes the whole job exit for a requeue (groups that finished
  // are skipped quickly by the --resume that follows). So does a signal that came after a rank's
  // last step: the job's time is nearly up, and the next phase must not start in what is left.
  return world.world_all(!stopped && !stop_signal_received()) ? 0 : kExitRequeue;
}

}  // namespace hpa::train
