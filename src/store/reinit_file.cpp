// reinit.h5 writer and reader.
#include "store/reinit_file.hpp"

#include "common/error.hpp"
#include "store/atomic_file.hpp"
#include "store/h5.hpp"

#include <cmath>
#include <filesystem>
#include <limits>

namespace hpa::store {
namespace {

void write_ints(hid_t file, const std::string& name, const std::vector<int64_t>& values,
                const std::vector<hsize_t>& dims) {
  h5::Handle space = h5::make_space(dims);
  h5::Handle dataset = h5::create_dataset(file, name, H5T_STD_I64LE, space.get());
  if (!values.empty())
    HPA_H5_CHECK(H5Dwrite(dataset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                 name);
}

std::vector<int64_t> read_ints(hid_t file, const std::string& name, const std::string& path) {
  h5::Handle dataset = h5::open_dataset(file, name, path);
  std::vector<int64_t> values(h5::stored_elements(dataset.get(), name, path));
  if (!values.empty())
    HPA_H5_CHECK(H5Dread(dataset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                 path);
  return values;
}

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : "\n") + name;
  return text;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

}  // namespace

bool ReinitGrid::same_cells(const ReinitGrid& other) const {
  return seeds == other.seeds && layer_names == other.layer_names && epochs == other.epochs &&
         rerandomize == other.rerandomize && test_samples == other.test_samples &&
         precision == other.precision;
}

std::string reinit_file_path(const std::string& run_dir) {
  return (std::filesystem::path(run_dir) / "reinit.h5").string();
}

void write_reinit(const std::string& run_dir, const ReinitGrid& grid) {
  const std::string path = reinit_file_path(run_dir);
  const std::string temporary = temporary_path_for(path);
  const hsize_t num_seeds = grid.seeds.size(), num_layers = grid.layer_names.size();
  const hsize_t columns = static_cast<hsize_t>(grid.columns());
  {
    h5::Handle file = h5::create_file(temporary);
    const hid_t root = file.get();
    h5::write_attr_int(root, "schema_version", kSchemaVersion);
    h5::write_attr_int(root, "test_samples", grid.test_samples);
    h5::write_attr_int(root, "rerandomize", grid.rerandomize);
    h5::write_attr_string(root, "method", grid.method);
    h5::write_attr_string(root, "precision", grid.precision);
    h5::write_attr_string(root, "config", grid.config);
    h5::write_attr_string(root, "layer_names", join(grid.layer_names));
    write_ints(root, "seeds", grid.seeds, {num_seeds});
    write_ints(root, "layers", grid.layer_indices, {num_layers});
    write_ints(root, "epochs", grid.epochs, {grid.epochs.size()});
    write_ints(root, "correct", grid.correct, {num_seeds, num_layers, columns});
    write_ints(root, "baseline_correct", grid.baseline_correct, {num_seeds});
    write_ints(root, "rerandomize_seeds", grid.rerandomize_seeds,
               {num_seeds, num_layers, static_cast<hsize_t>(grid.rerandomize)});
    // Derived, for readers: NaN where a cell is not evaluated yet.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double samples = static_cast<double>(grid.test_samples);
    std::vector<double> accuracy(grid.correct.size()), drop(grid.correct.size()), baseline(num_seeds);
    for (hsize_t s = 0; s < num_seeds; ++s)
      baseline[s] = grid.baseline_correct[s] < 0 ? nan : grid.baseline_correct[s] / samples;
    for (size_t i = 0; i < grid.correct.size(); ++i) {
      accuracy[i] = grid.correct[i] < 0 ? nan : grid.correct[i] / samples;
      const double base = baseline[i / (num_layers * columns)];
      drop[i] =
          (std::isnan(base) || std::isnan(accuracy[i]) || base == 0) ? nan : (base - accuracy[i]) / base;
    }
    h5::write_doubles(root, "accuracy", accuracy, {num_seeds, num_layers, columns});
    h5::write_doubles(root, "baseline_accuracy", baseline, {num_seeds});
    h5::write_doubles(root, "drop", drop, {num_seeds, num_layers, columns});
    file.close_checked(temporary);
  }
  commit_file(temporary, path);
}

bool read_reinit(const std::string& run_dir, ReinitGrid& grid) {
  const std::string path = reinit_file_path(run_dir);
  if (!std::filesystem::exists(path)) return false;
  h5::Handle file = h5::open_file(path, /*writable=*/false);
  const hid_t root = file.get();
  h5::require_schema_version(root, path, "reinit", kOldestSchemaVersion, kSchemaVersion);
  grid.test_samples = h5::read_attr_int(root, "test_samples", path);
  grid.rerandomize = h5::read_attr_int(root, "rerandomize", path);
  grid.method = h5::read_attr_string(root, "method", path);
  grid.precision = h5::has_attr(root, "precision") ? h5::read_attr_string(root, "precision", path) : "fp32";
  grid.layer_names = split_lines(h5::read_attr_string(root, "layer_names", path));
  grid.seeds = read_ints(root, "seeds", path);
  grid.layer_indices = read_ints(root, "layers", path);
  grid.epochs = read_ints(root, "epochs", path);
  grid.correct = read_ints(root, "correct", path);
  grid.baseline_correct = read_ints(root, "baseline_correct", path);
  grid.rerandomize_seeds = read_ints(root, "rerandomize_seeds", path);
  const size_t cells = grid.seeds.size() * grid.layer_names.size() * static_cast<size_t>(grid.columns());
  if (grid.correct.size() != cells || grid.baseline_correct.size() != grid.seeds.size())
    HPA_FAIL(path << ": dataset sizes do not match its seeds, layers and epochs");
  return true;
}

}  // namespace hpa::store
