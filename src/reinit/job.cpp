// The grid job; see job.hpp.
#include "reinit/job.hpp"

#include "cli/options.hpp"
#include "comm/farm.hpp"
#include "common/clock.hpp"
#include "common/device.hpp"
#include "common/error.hpp"
#include "common/fault.hpp"
#include "common/keyed_random.hpp"
#include "common/stop_request.hpp"
#include "data/batches.hpp"
#include "data/dataset.hpp"
#include "experiment/run_data.hpp"
#include "experiment/spec.hpp"
#include "models/architectures.hpp"
#include "models/parameters.hpp"
#include "reinit/grid.hpp"
#include "store/reinit_file.hpp"
#include "store/run_directory.hpp"

#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace hpa::reinit {
namespace {

// Everything a worker needs to evaluate items, loaded once per rank.
struct GridContext {
  GridOptions options;
  store::RunDescription run;
  experiment::ExperimentSpec trained;  // the experiment the run trained, from its run.h5
  models::ModelSpec spec;
  models::InitScheme init = models::InitScheme::paper;
  std::unique_ptr<data::Dataset> dataset;
  store::ReinitGrid grid;
  // Worker cache: the final model of the seed evaluated last, and its test set.
  int64_t cached_seed = -1;
  models::ConvNet model{nullptr};
  std::unique_ptr<data::SampleSet> test;

  EvalSettings settings;
  int64_t gpu_sharers = 1;     // node-local ranks on this rank's GPU
  int64_t memory_mb = 0;       // the resolved --memory-mb
  std::string memory_source;   // where memory_mb came from, for the start line
  std::vector<WorkItem> plan;  // the same on every rank; the farm hands out indices into it

  void load_seed(int64_t seed) {
    if (cached_seed == seed) return;
    test = experiment::seed_samples(*dataset, trained, seed).test;
    model = models::build_model(spec);
    const std::string final_path = store::epoch_file_path(options.run_dir, seed, run.epochs);
    models::load_parameters(*model, store::read_epoch_params(final_path), final_path,
                            "the run's " + run.arch);
    model->to(settings.device);
    cached_seed = seed;
  }

  std::vector<int64_t> layer_features() const {
    std::vector<int64_t> indices;
    for (const store::LayerRecord& layer : run.layers) indices.push_back(feature_index(layer.name));
    return indices;
  }

  // The correct counts of a work item's cells (one for a baseline item).
  std::vector<double> evaluate_item(const WorkItem& item, const std::function<void()>& service) {
    const int64_t num_layers = static_cast<int64_t>(run.layers.size());
    const int64_t seed = run.seeds[static_cast<size_t>(item.seed_index)];
    load_seed(seed);
    if (item.layer < 0) return {static_cast<double>(count_correct(*model, *test, settings, service))};

    const store::LayerRecord& layer = run.layers[static_cast<size_t>(item.layer)];
    std::vector<Variant> variants;
    const std::vector<std::string> names = {layer.name + ".weight", layer.name + ".bias"};
    const int64_t num_epochs = static_cast<int64_t>(grid.epochs.size());
    for (int64_t column = item.first_column; column < item.last_column; ++column) {
      Variant variant;
      if (column < num_epochs) {
        const int64_t epoch = grid.epochs[static_cast<size_t>(column)];
        const store::NamedTensors tensors =
            store::read_epoch_tensors(store::epoch_file_path(options.run_dir, seed, epoch), names);
        variant = {tensors[0].second, tensors[1].second};
      } else {
        const int64_t r = column - num_epochs;
        const size_t at = static_cast<size_t>((item.seed_index * num_layers + item.layer) * grid.rerandomize + r);
        auto [weight, bias] = models::draw_conv_init(*model, layer.name, spec.arch, init,
                                                     static_cast<uint64_t>(grid.rerandomize_seeds[at]));
        variant = {weight, bias};
      }
      variant.weight = variant.weight.to(settings.device);
      if (variant.bias.defined()) variant.bias = variant.bias.to(settings.device);
      variants.push_back(variant);
    }
    const std::vector<int64_t> correct =
        options.naive ? count_correct_naive(*model, layer.name, variants, *test, settings, service)
                      : count_correct_fused(*model, layer.name, variants, *test, settings, service);
    return std::vector<double>(correct.begin(), correct.end());
  }
};

void check_epoch_files(const GridContext& context) {
  for (int64_t seed : context.run.seeds) {
    std::set<int64_t> needed(context.grid.epochs.begin(), context.grid.epochs.end());
    needed.insert(context.run.epochs);
    for (int64_t epoch : needed)
      if (!store::epoch_file_exists(context.options.run_dir, seed, epoch))
        HPA_FAIL(store::epoch_file_path(context.options.run_dir, seed, epoch)
                 << " is missing: the run is not complete (train it to the end, or choose existing epochs "
                    "with --epochs)");
  }
}

void print_summary(const store::ReinitGrid& grid, const std::vector<store::LayerRecord>& layers) {
  std::cout << "relative accuracy drop, mean over " << grid.seeds.size() << " seed(s); columns: reset epochs";
  if (grid.rerandomize) std::cout << ", then the mean of " << grid.rerandomize << " re-randomization(s)";
  std::cout << "\n" << std::left << std::setw(6) << "layer" << std::setw(14) << "name" << std::right;
  for (int64_t epoch : grid.epochs) std::cout << std::setw(8) << ("e" + std::to_string(epoch));
  if (grid.rerandomize) std::cout << std::setw(8) << "rand";
  std::cout << "\n";
  const size_t L = layers.size(), C = static_cast<size_t>(grid.columns());
  for (size_t l = 0; l < L; ++l) {
    std::cout << std::left << std::setw(6) << layers[l].index << std::setw(14) << layers[l].name << std::right
              << std::fixed << std::setprecision(3);
    const auto mean_drop = [&](size_t first, size_t last) {
      double sum = 0;
      int64_t count = 0;
      for (size_t s = 0; s < grid.seeds.size(); ++s) {
        const double base = static_cast<double>(grid.baseline_correct[s]);
        for (size_t c = first; c < last; ++c) {
          sum += (base - static_cast<double>(grid.correct[(s * L + l) * C + c])) / base;
          ++count;
        }
      }
      return sum / static_cast<double>(count);
    };
    for (size_t c = 0; c < grid.epochs.size(); ++c) std::cout << std::setw(8) << mean_drop(c, c + 1);
    if (grid.rerandomize) std::cout << std::setw(8) << mean_drop(grid.epochs.size(), C);
    std::cout << "\n";
  }
  std::cout.unsetf(std::ios::fixed);
}

}  // namespace

std::vector<int64_t> parse_epoch_list(const std::string& text, int64_t max_epoch) {
  const std::vector<int64_t> listed = cli::parse_index_list(text, "--epochs");
  const std::set<int64_t> epochs(listed.begin(), listed.end());
  HPA_REQUIRE(*epochs.rbegin() <= max_epoch,
              "--epochs " << text << ": epoch " << *epochs.rbegin() << " is beyond the run's " << max_epoch);
  return {epochs.begin(), epochs.end()};
}

namespace {

// The reset epochs: the run's kept epochs ("all"), or the listed ones, each of which it must have kept.
std::vector<int64_t> grid_epochs(const GridOptions& options, const store::RunDescription& run) {
  const std::vector<int64_t>& kept = run.snapshot_epochs;  // whose parameters the run kept
  if (options.epochs_text == "all") return kept;
  std::vector<int64_t> epochs = parse_epoch_list(options.epochs_text, run.epochs);
  for (int64_t epoch : epochs) {
    if (std::find(kept.begin(), kept.end(), epoch) != kept.end()) continue;
    std::string list;
    for (int64_t e : kept) list += (list.empty() ? "" : ",") + std::to_string(e);
    HPA_FAIL("--epochs " << options.epochs_text << ": the run kept no parameters of epoch " << epoch
                         << " (its --snapshot-epochs kept " << list << ")");
  }
  return epochs;
}

// The run, the model it trained, the grid's axes, and the run's test data (every rank).
void load_context(GridContext& context, const GridOptions& options, c10::Device device) {
  context.options = options;
  context.settings.device = device;
  context.settings.precision = options.precision;
  context.run = store::read_run(options.run_dir);
  const std::string run_file = store::run_file_path(options.run_dir);
  context.trained = experiment::stored_spec(context.run, run_file);
  context.spec.arch = context.trained.arch;
  context.spec.in_channels = context.run.in_channels;
  context.spec.num_classes = context.run.num_classes;
  context.spec.width = context.trained.width;
  context.init = *context.trained.init;
  for (const store::LayerRecord& layer : context.run.layers) feature_index(layer.name);  // fail early

  store::ReinitGrid& grid = context.grid;
  grid.seeds = context.run.seeds;
  for (const store::LayerRecord& layer : context.run.layers) {
    grid.layer_indices.push_back(layer.index);
    grid.layer_names.push_back(layer.name);
  }
  grid.epochs = grid_epochs(options, context.run);
  grid.rerandomize = options.rerandomize;
  grid.method = options.naive ? "naive" : "fused";
  grid.precision = experiment::precision_name(options.precision);
  grid.config = options.config_text;
  check_epoch_files(context);

  const std::string data_dir =
      options.data_dir.empty() ? experiment::stored_data_dir(context.run, run_file) : options.data_dir;
  context.dataset = experiment::load_run_dataset(context.trained, data_dir);
  HPA_REQUIRE(context.dataset->num_classes() == context.run.num_classes,
              "--data-dir " << data_dir << ": its dataset has " << context.dataset->num_classes()
                            << " classes, the model head of " << options.run_dir << " "
                            << context.run.num_classes);
  context.settings.loader.threads =
      context.dataset->decodes_images() ? static_cast<int>(std::max<int64_t>(1, options.threads)) : 1;
  context.settings.loader.pin_memory = device.is_cuda();  // allocated by this thread, on its current device
  grid.test_samples = context.dataset->size(data::Part::test);
}

// --memory-mb, or what it defaults to: 2048 MiB on the CPU; on a GPU 3/4 of its free memory (what the
// CUDA runtime reports at the grid's start), split among the node's ranks that share it.
void resolve_memory(GridContext& context) {
  const GridOptions& options = context.options;
  if (options.memory_mb > 0) {
    context.memory_mb = options.memory_mb;
    context.memory_source = "--memory-mb";
    return;
  }
  const std::optional<int64_t> free_bytes = free_device_memory(context.settings.device);
  if (!free_bytes) {
    context.memory_mb = 2048;
    context.memory_source = context.settings.device.is_cuda() ? "default; GPU memory unknown" : "default";
    return;
  }
  context.memory_mb = std::max<int64_t>(16, *free_bytes / 4 * 3 / context.gpu_sharers >> 20);
  std::ostringstream source;
  source << "3/4 of " << (*free_bytes >> 20) << " MiB free on the GPU";
  if (context.gpu_sharers > 1) source << " / " << context.gpu_sharers << " ranks";
  context.memory_source = source.str();
}

// Batch sizes from the memory budget (unless given): at most `budget` images fit at the model's
// widest point (its input and output there, twice over for the allocator's slack). A test batch
// is at most 1,000 of them. On a GPU the fused stack fills the budget with several variants; on
// the CPU one variant at a time behind the shared prefix measured faster (docs/performance.md).
// Returns the model's FLOP costs, which plan the work items.
CostModel size_batches(GridContext& context) {
  const GridOptions& options = context.options;
  EvalSettings& settings = context.settings;
  models::ConvNet probe_model = models::build_model(context.spec);
  const CostModel flops =
      estimate_costs(*probe_model, context.layer_features(), context.dataset->sample_shape(), options.naive);
  // bf16 activations take half the bytes of the float32 ones activation_bytes counts.
  const int64_t element_bytes = settings.precision == models::Precision::bf16 ? 2 : 4;
  const int64_t activation_bytes = std::max<int64_t>(1, flops.activation_bytes * element_bytes / 4);
  resolve_memory(context);
  const int64_t budget =
      std::max<int64_t>(1, context.memory_mb * (int64_t{1} << 20) / (2 * activation_bytes));
  settings.batch_size = options.batch_size > 0 ? options.batch_size : std::min<int64_t>(1000, budget);
  settings.stack_limit = options.stack_limit > 0     ? options.stack_limit
                         : settings.device.is_cuda() ? std::max(budget, settings.batch_size)
                                                     : settings.batch_size;
  return flops;
}

// --simulate-ranks (rank 0): measures this machine, simulates the farm's schedule, writes nothing.
void print_simulation(GridContext& context, const CostModel& flops) {
  const GridOptions& options = context.options;
  const store::ReinitGrid& grid = context.grid;
  const EvalSettings& settings = context.settings;
  const int64_t num_layers = static_cast<int64_t>(grid.layer_names.size());
  const int64_t columns = grid.columns();
  const int64_t seeds =
      options.simulate_seeds > 0 ? options.simulate_seeds : static_cast<int64_t>(grid.seeds.size());
  context.load_seed(grid.seeds[0]);
  const CostModel measured = measure_costs(*context.model, context.layer_features(), *context.test, settings,
                                           grid.test_samples, /*repeats=*/3, options.naive);
  const std::vector<WorkItem> plan =
      plan_items(seeds, columns, options.simulate_ranks, flops, options.cells_per_item);
  const FarmSimulation simulation = simulate_farm(plan, measured, options.simulate_ranks);
  double work = 0;
  for (const WorkItem& item : plan) work += item_cost(item, measured);
  std::cout << std::fixed << std::setprecision(3) << "measured on this machine (" << grid.test_samples
            << " test images, batch " << settings.batch_size << ", " << at::get_num_threads()
            << " thread(s)): baseline " << measured.full << " s; reading and decoding the test set "
            << measured.input << " s, repeated by every work item and counted in full below\n"
            << "layer      prefix_s   suffix_s/cell   flops prefix/suffix\n";
  for (int64_t l = 0; l < num_layers; ++l)
    std::cout << std::left << std::setw(10) << grid.layer_names[static_cast<size_t>(l)] << std::right
              << std::setw(9) << measured.layers[static_cast<size_t>(l)].prefix << std::setw(14)
              << measured.layers[static_cast<size_t>(l)].suffix << std::setw(14) << std::setprecision(0)
              << flops.layers[static_cast<size_t>(l)].prefix << "/"
              << flops.layers[static_cast<size_t>(l)].suffix << std::setprecision(3) << "\n";
  std::cout << "simulated farm: " << seeds << " seed(s) x " << num_layers << " layers x " << columns
            << " cells on " << options.simulate_ranks << " ranks, " << plan.size() << " work items\n"
            << "wall " << simulation.wall << " s, work " << work << " s (" << std::setprecision(1)
            << 100.0 * work / (simulation.wall * static_cast<double>(options.simulate_ranks))
            << " % of rank time used); ranks busy at 95 % of the wall time: "
            << 100.0 * simulation.busy_fraction_at(0.95 * simulation.wall)
            << " %; at 90 %: " << 100.0 * simulation.busy_fraction_at(0.90 * simulation.wall) << " %\n";
  // What sharing the prefix can gain at best: naive evaluates the whole model per cell.
  const auto fused_over_naive = [&](const CostModel& costs) {  // the model's work alone
    double fused = costs.full, naive = costs.full;
    for (const LayerCost& layer : costs.layers) {
      fused += layer.prefix + static_cast<double>(columns) * layer.suffix;
      naive += static_cast<double>(columns) * costs.full;
    }
    return naive / fused;
  };
  std::cout << std::setprecision(2) << "fused over naive (" << columns
            << " cells per layer): " << fused_over_naive(flops) << "x by FLOPs, "
            << fused_over_naive(measured) << "x by the measured layer times\n";
  std::cout.unsetf(std::ios::fixed);
}

// Empty cells, one draw per (seed, layer, re-randomization) keyed by seed and layer, and the plan of
// work items (the same on every rank).
void plan_grid(GridContext& context, const CostModel& flops, int world_size) {
  store::ReinitGrid& grid = context.grid;
  const int64_t num_seeds = static_cast<int64_t>(grid.seeds.size());
  const int64_t num_layers = static_cast<int64_t>(grid.layer_names.size());
  grid.correct.assign(static_cast<size_t>(num_seeds * num_layers * grid.columns()), -1);
  grid.baseline_correct.assign(static_cast<size_t>(num_seeds), -1);
  for (int64_t s = 0; s < num_seeds; ++s)
    for (int64_t l = 0; l < num_layers; ++l)
      for (int64_t r = 0; r < grid.rerandomize; ++r)
        grid.rerandomize_seeds.push_back(
            static_cast<int64_t>(keyed_random(static_cast<uint64_t>(grid.seeds[static_cast<size_t>(s)]),
                                              grid.layer_indices[static_cast<size_t>(l)],
                                              static_cast<uint64_t>(r), RandomStream::rerandomize) >>
                                 1));
  context.plan = plan_items(num_seeds, grid.columns(), world_size, flops, context.options.cells_per_item);
}

int64_t& cell(store::ReinitGrid& grid, const WorkItem& item, int64_t column) {
  const int64_t num_layers = static_cast<int64_t>(grid.layer_names.size());
  return grid
      .correct[static_cast<size_t>((item.seed_index * num_layers + item.layer) * grid.columns() + column)];
}

// Rank 0: takes the cells an earlier reinit.h5 of the same grid holds, and returns the indices of the
// work items still to do.
std::vector<int64_t> pending_items(GridContext& context) {
  store::ReinitGrid& grid = context.grid;
  const GridOptions& options = context.options;
  store::ReinitGrid previous;
  if (!options.overwrite && store::read_reinit(options.run_dir, previous)) {
    HPA_REQUIRE(previous.same_cells(grid),
                store::reinit_file_path(options.run_dir)
                    << " holds a grid of other seeds, layers, epochs, re-randomizations or precision ("
                    << previous.precision << ", now " << grid.precision
                    << "; pass --overwrite to replace it)");
    grid.correct = previous.correct;
    grid.baseline_correct = previous.baseline_correct;
  }
  std::vector<int64_t> items;
  for (size_t i = 0; i < context.plan.size(); ++i) {
    const WorkItem& item = context.plan[i];
    bool done = true;
    if (item.layer < 0) {
      done = grid.baseline_correct[static_cast<size_t>(item.seed_index)] >= 0;
    } else {
      for (int64_t c = item.first_column; c < item.last_column; ++c) done = done && cell(grid, item, c) >= 0;
    }
    if (!done) items.push_back(static_cast<int64_t>(i));
  }
  return items;
}

void print_grid_start(const GridContext& context, size_t pending, int world_size) {
  const store::ReinitGrid& grid = context.grid;
  const GridOptions& options = context.options;
  std::cout << "hpa-reinit-grid: " << grid.seeds.size() << " seed(s) x " << grid.layer_names.size()
            << " layers x " << grid.columns() << " variants (" << grid.epochs.size() << " epochs + "
            << grid.rerandomize << " re-randomizations), " << grid.test_samples << " test images, "
            << grid.method << " evaluation on " << experiment::device_kind_name(options.device) << ", batch "
            << context.settings.batch_size << ", stack " << context.settings.stack_limit << " ("
            << context.memory_mb << " MiB: " << context.memory_source << "), "
            << experiment::precision_name(options.precision) << ", " << world_size << " rank(s); " << pending
            << " of " << context.plan.size() << " work items to do" << std::endl;
}

// Rank 0's side of the farm: stores each finished item's counts, reports throughput and ETA, and
// writes reinit.h5 every --flush-seconds.
class GridProgress {
 public:
  GridProgress(GridContext& context, size_t pending)
      : context_(context), pending_(static_cast<int64_t>(pending)) {}

  void on_result(int64_t index, const std::vector<double>& result) {
    store::ReinitGrid& grid = context_.grid;
    const WorkItem& item = context_.plan.at(static_cast<size_t>(index));
    if (item.layer < 0) {
      grid.baseline_correct[static_cast<size_t>(item.seed_index)] = static_cast<int64_t>(result.at(0));
    } else {
      HPA_INTERNAL_CHECK(static_cast<int64_t>(result.size()) == item.cells(),
                         "item " << index << " returned " << result.size() << " cells");
      for (int64_t c = item.first_column; c < item.last_column; ++c)
        cell(grid, item, c) = static_cast<int64_t>(result[static_cast<size_t>(c - item.first_column)]);
      cells_done_ += item.cells();
    }
    ++items_done_;
    print_item(item);
    if (wall_seconds() - last_flush_ >= context_.options.flush_seconds) {
      store::write_reinit(context_.options.run_dir, grid);
      last_flush_ = wall_seconds();
    }
    pause_point("grid-" + std::to_string(items_done_));  // tests only (HPA_TEST_PAUSE)
  }

  // After the farm (rank 0): what it did, and the summary table when the grid is complete.
  void print_end(bool finished) const {
    const std::string path = store::reinit_file_path(context_.options.run_dir);
    if (!finished) {
      std::cout << "stopped on " << signal_name(stop_signal_number()) << ": " << items_done_ << " of "
                << pending_ << " work items done, written to " << path << "; exit status " << kExitRequeue
                << " (run again to continue)" << std::endl;
      return;
    }
    const double elapsed = wall_seconds() - start_;
    std::cout << "done: " << cells_done_ << " cells in " << std::setprecision(3) << elapsed << " s ("
              << static_cast<double>(cells_done_) / elapsed << " cells/s); results in " << path << "\n";
    print_summary(context_.grid, context_.run.layers);
  }

 private:
  void print_item(const WorkItem& item) const {
    const store::ReinitGrid& grid = context_.grid;
    const double elapsed = wall_seconds() - start_;
    const double eta =
        elapsed / static_cast<double>(items_done_) * static_cast<double>(pending_ - items_done_);
    std::cout << "item " << items_done_ << "/" << pending_ << " (seed "
              << grid.seeds[static_cast<size_t>(item.seed_index)]
              << (item.layer < 0
                      ? std::string(", baseline")
                      : ", " + grid.layer_names[static_cast<size_t>(item.layer)] + " cells " +
                            std::to_string(item.first_column) + "-" + std::to_string(item.last_column - 1))
              << "): " << std::fixed << std::setprecision(2) << static_cast<double>(cells_done_) / elapsed
              << " cells/s, " << std::setprecision(0) << elapsed << " s elapsed, ETA " << eta << " s"
              << std::endl;
    std::cout.unsetf(std::ios::fixed);
  }

  GridContext& context_;
  int64_t pending_;
  double start_ = wall_seconds();
  double last_flush_ = start_;
  int64_t items_done_ = 0, cells_done_ = 0;
};

}  // namespace

bool run_grid(const GridOptions& options, const comm::World& world, c10::Device device) {
  experiment::validate_grid_options(options);
  GridContext context;
  if (device.is_cuda())
    context.gpu_sharers = ranks_sharing_gpu(world.local_rank(), world.local_size(),
                                            static_cast<int64_t>(torch::cuda::device_count()));
  load_context(context, options, device);
  const CostModel flops = size_batches(context);
  if (options.simulate_ranks > 0) {
    if (world.is_world_root()) print_simulation(context, flops);
    return true;
  }
  plan_grid(context, flops, world.world_size());
  std::vector<int64_t> items;
  if (world.is_world_root()) {
    items = pending_items(context);
    print_grid_start(context, items.size(), world.world_size());
  }

  GridProgress progress(context, items.size());
  comm::FarmCallbacks callbacks;
  callbacks.work = [&](int64_t index, const std::function<void()>& service) {
    return context.evaluate_item(context.plan.at(static_cast<size_t>(index)), service);
  };
  callbacks.on_result = [&](int64_t index, const std::vector<double>& result) {
    progress.on_result(index, result);
  };
  // A signal (SIGUSR2 ahead of a time limit, SIGTERM) stops the farm: items in progress are
  // abandoned at their next batch, every finished one is kept.
  callbacks.stop_requested = [] { return stop_signal_received(); };
  const bool finished = comm::run_farm(world, items, callbacks);
  if (world.is_world_root()) store::write_reinit(options.run_dir, context.grid);  // also when stopped
  // Every rank waits for that write: a rank that exits 75 first would make srun --kill-on-bad-exit
  // end rank 0 in the middle of it.
  world.world_barrier();
  if (world.is_world_root()) progress.print_end(finished);
  return finished;
}

}  // namespace hpa::reinit
