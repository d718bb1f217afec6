// The grid job; see job.hpp.
#include "reinit/job.hpp"

#include "cli/options.hpp"
#include "comm/farm.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "data/batches.hpp"
#include "data/dataset.hpp"
#include "data/keyed_random.hpp"
#include "models/architectures.hpp"
#include "models/parameters.hpp"
#include "reinit/grid.hpp"
#include "store/reinit_file.hpp"
#include "store/run_directory.hpp"
#include "train/options.hpp"
#include "train/run_setup.hpp"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

namespace hpa::reinit {
namespace {

// Everything a worker needs to evaluate items, loaded once per rank.
struct GridContext {
  GridOptions options;
  store::RunDescription run;
  train::TrainOptions trained;  // the options the run was trained with
  models::ModelSpec spec;
  models::InitScheme init = models::InitScheme::paper;
  std::unique_ptr<data::Dataset> dataset;
  data::LoaderOptions loader;
  store::ReinitGrid grid;
  // Worker cache: the final model of the seed evaluated last, and its test set.
  int64_t cached_seed = -1;
  models::ConvNet model{nullptr};
  std::unique_ptr<data::SampleSet> test;

  void load_seed(int64_t seed) {
    if (cached_seed == seed) return;
    test = train::seed_samples(*dataset, trained, seed).test;
    model = models::build_model(spec);
    const std::string final_path = store::epoch_file_path(options.run_dir, seed, run.epochs);
    models::load_parameters(*model, store::read_epoch_params(final_path), final_path,
                            "the run's " + run.arch);
    cached_seed = seed;
  }

  std::vector<double> evaluate_item(int64_t item, const std::function<void()>& service) {
    const int64_t num_layers = static_cast<int64_t>(run.layers.size());
    const int64_t seed_index = item / (num_layers + 1), slot = item % (num_layers + 1);
    const int64_t seed = run.seeds[static_cast<size_t>(seed_index)];
    load_seed(seed);
    EvalSettings settings;
    settings.batch_size = options.batch_size;
    settings.stack_limit = options.stack_limit;
    settings.loader = loader;
    if (slot == 0) return {static_cast<double>(count_correct(*model, *test, settings, service))};

    const store::LayerRecord& layer = run.layers[static_cast<size_t>(slot - 1)];
    std::vector<Variant> variants;
    const std::vector<std::string> names = {layer.name + ".weight", layer.name + ".bias"};
    for (int64_t epoch : grid.epochs) {
      const store::NamedTensors tensors =
          store::read_epoch_tensors(store::epoch_file_path(options.run_dir, seed, epoch), names);
      variants.push_back({tensors[0].second, tensors[1].second});
    }
    for (int64_t r = 0; r < grid.rerandomize; ++r) {
      const size_t at = static_cast<size_t>((seed_index * num_layers + slot - 1) * grid.rerandomize + r);
      auto [weight, bias] = models::draw_conv_init(*model, layer.name, spec.arch, init,
                                                   static_cast<uint64_t>(grid.rerandomize_seeds[at]));
      variants.push_back({weight, bias});
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

void run_grid(const GridOptions& options, const comm::World& world) {
  HPA_REQUIRE(options.rerandomize >= 0 && options.rerandomize <= 1000,
              "--rerandomize must be in 0..1000, got " << options.rerandomize);
  HPA_REQUIRE(options.batch_size >= 1, "--batch-size must be positive, got " << options.batch_size);
  HPA_REQUIRE(options.stack_limit >= 1, "--stack-limit must be positive, got " << options.stack_limit);
  GridContext context;
  context.options = options;
  context.run = store::read_run(options.run_dir);
  context.trained =
      train::read_stored_options(context.run.config_text, store::run_file_path(options.run_dir));
  context.spec.arch = models::parse_arch(context.run.arch);
  context.spec.in_channels = context.run.in_channels;
  context.spec.num_classes = context.run.num_classes;
  context.spec.width = context.run.width;
  context.init = models::parse_init_scheme(context.run.init);
  for (const store::LayerRecord& layer : context.run.layers) feature_index(layer.name);  // fail early

  store::ReinitGrid& grid = context.grid;
  grid.seeds = context.run.seeds;
  for (const store::LayerRecord& layer : context.run.layers) {
    grid.layer_indices.push_back(layer.index);
    grid.layer_names.push_back(layer.name);
  }
  const std::vector<int64_t>& kept = context.run.snapshot_epochs;  // whose parameters the run kept
  if (options.epochs_text == "all") {
    grid.epochs = kept;
  } else {
    grid.epochs = parse_epoch_list(options.epochs_text, context.run.epochs);
    for (int64_t epoch : grid.epochs) {
      if (std::find(kept.begin(), kept.end(), epoch) != kept.end()) continue;
      std::string list;
      for (int64_t e : kept) list += (list.empty() ? "" : ",") + std::to_string(e);
      HPA_FAIL("--epochs " << options.epochs_text << ": the run kept no parameters of epoch " << epoch
                           << " (its --snapshot-epochs kept " << list << ")");
    }
  }
  grid.rerandomize = options.rerandomize;
  grid.method = options.naive ? "naive" : "fused";
  grid.config = options.config_text;
  check_epoch_files(context);

  const train::TrainOptions& trained = context.trained;
  const std::string data_dir = options.data_dir.empty() ? trained.data_dir : options.data_dir;
  context.dataset = train::load_run_dataset(trained, data_dir);
  HPA_REQUIRE(context.dataset->num_classes() == context.run.num_classes,
              "--data-dir " << data_dir << ": its dataset has " << context.dataset->num_classes()
                            << " classes, the model head of " << options.run_dir << " "
                            << context.run.num_classes);
  context.loader.threads =
      context.dataset->decodes_images() ? train::resolve_threads(options.threads, world.local_size()) : 1;
  grid.test_samples = context.dataset->size(data::Part::test);

  const size_t num_seeds = grid.seeds.size(), num_layers = grid.layer_names.size();
  const size_t columns = static_cast<size_t>(grid.columns());
  grid.correct.assign(num_seeds * num_layers * columns, -1);
  grid.baseline_correct.assign(num_seeds, -1);
  for (size_t s = 0; s < num_seeds; ++s)
    for (size_t l = 0; l < num_layers; ++l)
      for (int64_t r = 0; r < grid.rerandomize; ++r)
        grid.rerandomize_seeds.push_back(static_cast<int64_t>(
            data::keyed_random(static_cast<uint64_t>(grid.seeds[s]), grid.layer_indices[l],
                               static_cast<uint64_t>(r), data::RandomStream::rerandomize) >>
            1));

  // Rank 0 alone reads an earlier reinit.h5 of the same cells and tells everyone what is left.
  std::vector<int64_t> items;
  const int64_t num_items = static_cast<int64_t>(num_seeds * (num_layers + 1));
  if (world.is_world_root()) {
    store::ReinitGrid previous;
    if (!options.overwrite && store::read_reinit(options.run_dir, previous)) {
      HPA_REQUIRE(previous.same_cells(grid),
                  store::reinit_file_path(options.run_dir)
                      << " holds a grid of other seeds, layers, epochs or re-randomizations "
                         "(pass --overwrite to replace it)");
      grid.correct = previous.correct;
      grid.baseline_correct = previous.baseline_correct;
    }
    for (int64_t item = 0; item < num_items; ++item) {
      const size_t s = static_cast<size_t>(item) / (num_layers + 1),
                   slot = static_cast<size_t>(item) % (num_layers + 1);
      const bool done = slot == 0 ? grid.baseline_correct[s] >= 0
                                  : grid.correct[(s * num_layers + slot - 1) * columns] >= 0;
      if (!done) items.push_back(item);
    }
    std::cout << "hpa-reinit-grid: " << num_seeds << " seed(s) x " << num_layers << " layers x " << columns
              << " variants (" << grid.epochs.size() << " epochs + " << grid.rerandomize
              << " re-randomizations), " << grid.test_samples << " test images, " << grid.method
              << " evaluation, " << world.world_size() << " rank(s); " << items.size() << " of " << num_items
              << " work items to do" << std::endl;
  }

  const double start = wall_seconds();
  double last_flush = start;
  int64_t items_done = 0, cells_done = 0;
  comm::FarmCallbacks callbacks;
  callbacks.work = [&](int64_t item, const std::function<void()>& service) {
    return context.evaluate_item(item, service);
  };
  callbacks.on_result = [&](int64_t item, const std::vector<double>& result) {  // rank 0
    const size_t s = static_cast<size_t>(item) / (num_layers + 1),
                 slot = static_cast<size_t>(item) % (num_layers + 1);
    if (slot == 0) {
      grid.baseline_correct[s] = static_cast<int64_t>(result.at(0));
    } else {
      HPA_INTERNAL_CHECK(result.size() == columns,
                         "item " << item << " returned " << result.size() << " cells");
      for (size_t c = 0; c < columns; ++c)
        grid.correct[(s * num_layers + slot - 1) * columns + c] = static_cast<int64_t>(result[c]);
      cells_done += static_cast<int64_t>(columns);
    }
    ++items_done;
    const double elapsed = wall_seconds() - start;
    const double eta = elapsed / static_cast<double>(items_done) *
                       static_cast<double>(static_cast<int64_t>(items.size()) - items_done);
    std::cout << "item " << items_done << "/" << items.size() << " (seed " << grid.seeds[s]
              << (slot == 0 ? ", baseline" : ", " + grid.layer_names[slot - 1]) << "): " << std::fixed
              << std::setprecision(2) << static_cast<double>(cells_done) / elapsed << " cells/s, "
              << std::setprecision(0) << elapsed << " s elapsed, ETA " << eta << " s" << std::endl;
    std::cout.unsetf(std::ios::fixed);
    if (wall_seconds() - last_flush >= options.flush_seconds) {
      store::write_reinit(options.run_dir, grid);
      last_flush = wall_seconds();
    }
  };
  comm::run_farm(world, items, callbacks);
  if (world.is_world_root()) {
    store::write_reinit(options.run_dir, grid);
    const double elapsed = wall_seconds() - start;
    std::cout << "done: " << cells_done << " cells in " << std::setprecision(3) << elapsed << " s ("
              << static_cast<double>(cells_done) / elapsed << " cells/s); results in "
              << store::reinit_file_path(options.run_dir) << "\n";
    print_summary(grid, context.run.layers);
  }
}

}  // namespace hpa::reinit
