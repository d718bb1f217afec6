// Run-directory report of hpa-stats.
#include "stats/run_report.hpp"

#include "common/error.hpp"
#include "stats/report.hpp"
#include "store/run_directory.hpp"

#include <cmath>
#include <fstream>
#include <iomanip>

namespace hpa::stats {
namespace {

struct SeedEnds {
  int64_t seed = 0, last_epoch = 0;
  std::vector<double> initial, final;  // n_l per layer
};

// The n_l the trainer stored with the epoch: reading it costs a few bytes, where recomputing it
// would read every parameter of the snapshot (575 MB for a VGG19 epoch).
std::vector<double> stored_neg_fraction(const std::string& path, size_t num_layers) {
  std::vector<double> values = store::read_epoch_neg_fraction(path);
  if (values.size() != num_layers)
    HPA_FAIL(path << ": stats/neg_fraction holds " << values.size() << " layers, run.h5 lists "
                  << num_layers);
  return values;
}

std::pair<double, double> mean_std(const std::vector<SeedEnds>& seeds, size_t layer, bool final) {
  double sum = 0, squares = 0;
  for (const SeedEnds& s : seeds) sum += (final ? s.final : s.initial)[layer];
  const double mean = sum / static_cast<double>(seeds.size());
  for (const SeedEnds& s : seeds) squares += std::pow((final ? s.final : s.initial)[layer] - mean, 2);
  return {mean, seeds.size() > 1 ? std::sqrt(squares / static_cast<double>(seeds.size() - 1)) : 0.0};
}

}  // namespace

void report_run(std::ostream& out, const std::string& run_dir, const std::string& json_path) {
  const store::RunDescription run = store::read_run(run_dir);
  std::vector<SeedEnds> seeds;
  for (int64_t seed : run.seeds) {
    SeedEnds ends;
    ends.seed = seed;
    const std::string first = store::epoch_file_path(run_dir, seed, 0);
    if (!store::epoch_file_exists(run_dir, seed, 0)) continue;  // not started yet
    ends.initial = stored_neg_fraction(first, run.layers.size());
    for (int64_t e = run.epochs; e >= 0; --e) {
      if (!store::epoch_file_exists(run_dir, seed, e)) continue;
      const std::string path = store::epoch_file_path(run_dir, seed, e);
      ends.last_epoch = e;
      ends.final = stored_neg_fraction(path, run.layers.size());
      break;
    }
    seeds.push_back(std::move(ends));
  }
  HPA_REQUIRE(!seeds.empty(), run_dir << ": no epoch has been written yet");

  out << "run: " << run_dir << " (" << run.arch << " on " << run.dataset << ", " << run.epochs
      << " epochs)\n";
  for (const SeedEnds& s : seeds)
    out << "  seed " << s.seed << ": epoch 0 and epoch " << s.last_epoch << "\n";
  out << "n_l per conv layer, mean (sd) over " << seeds.size() << " seed(s)\n";
  out << std::left << std::setw(6) << "layer" << std::setw(16) << "name" << std::right << std::setw(6) << "F"
      << std::setw(18) << "epoch 0" << std::setw(18) << "last epoch"
      << "\n";
  for (size_t l = 0; l < run.layers.size(); ++l) {
    const auto [m0, s0] = mean_std(seeds, l, false);
    const auto [m1, s1] = mean_std(seeds, l, true);
    std::ostringstream first, last;
    first << std::fixed << std::setprecision(3) << m0 << " (" << s0 << ")";
    last << std::fixed << std::setprecision(3) << m1 << " (" << s1 << ")";
    out << std::left << std::setw(6) << run.layers[l].index << std::setw(16) << run.layers[l].name
        << std::right << std::setw(6) << run.layers[l].filters << std::setw(18) << first.str()
        << std::setw(18) << last.str() << "\n";
  }
  if (json_path.empty()) return;
  std::ofstream json(json_path);
  HPA_REQUIRE(json, "--json " << json_path << ": cannot open for writing");
  json << "{\"run\": " << json_quote(run_dir) << ", \"seeds\": [";
  for (size_t s = 0; s < seeds.size(); ++s)
    json << (s ? ", " : "") << "{\"seed\": " << seeds[s].seed << ", \"last_epoch\": " << seeds[s].last_epoch
         << "}";
  json << "],\n \"layers\": [";
  for (size_t l = 0; l < run.layers.size(); ++l) {
    json << (l ? ",\n  " : "\n  ") << "{\"index\": " << run.layers[l].index
         << ", \"name\": " << json_quote(run.layers[l].name) << ", \"neg_fraction_epoch0\": [";
    for (size_t s = 0; s < seeds.size(); ++s) json << (s ? ", " : "") << seeds[s].initial[l];
    json << "], \"neg_fraction_last\": [";
    for (size_t s = 0; s < seeds.size(); ++s) json << (s ? ", " : "") << seeds[s].final[l];
    json << "]}";
  }
  json << "\n ]}\n";
}

}  // namespace hpa::stats
