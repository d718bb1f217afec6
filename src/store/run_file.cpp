// run.h5: attributes, the model/layers table and the virtual datasets that map every
// (seed, epoch) slice onto the per-epoch files. Unwritten slices read as the NaN fill value.
#include "common/clock.hpp"
#include "common/error.hpp"
#include "store/atomic_file.hpp"
#include "store/h5.hpp"
#include "store/run_directory.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <limits>

namespace hpa::store {
namespace fs = std::filesystem;
namespace {

std::vector<hsize_t> to_hsize(const std::vector<int64_t>& dims) { return {dims.begin(), dims.end()}; }

std::string epoch_file_name(int64_t seed, int64_t epoch) {
  char name[64];
  std::snprintf(name, sizeof name, "seed_%lld/epoch_%04lld.h5", static_cast<long long>(seed),
                static_cast<long long>(epoch));
  return name;
}

// A virtual dataset [S, E+1, tail...] whose (s, e) slice is `source_path` in the epoch file of
// (seeds[s], e). `source_dims` is the source dataset's shape (same element count as tail).
void create_virtual(hid_t file, const std::string& path, hid_t type, const RunDescription& run,
                    const std::vector<hsize_t>& tail, const std::vector<hsize_t>& source_dims) {
  const hsize_t num_seeds = run.seeds.size(), num_epochs = static_cast<hsize_t>(run.epochs) + 1;
  std::vector<hsize_t> dims = {num_seeds, num_epochs};
  dims.insert(dims.end(), tail.begin(), tail.end());
  h5::Handle space = h5::make_space(dims);
  h5::Handle source_space = h5::make_space(source_dims);
  h5::Handle dcpl = h5::make_plist(H5P_DATASET_CREATE);
  if (H5Tequal(type, H5T_IEEE_F32LE) > 0) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    HPA_H5_CHECK(H5Pset_fill_value(dcpl.get(), H5T_NATIVE_FLOAT, &nan), path);
  } else {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    HPA_H5_CHECK(H5Pset_fill_value(dcpl.get(), H5T_NATIVE_DOUBLE, &nan), path);
  }
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  count[0] = count[1] = 1;
  for (hsize_t s = 0; s < num_seeds; ++s) {
    for (hsize_t e = 0; e < num_epochs; ++e) {
      start[0] = s;
      start[1] = e;
      HPA_H5_CHECK(
          H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
          path);
      const std::string source_file = epoch_file_name(run.seeds[s], static_cast<int64_t>(e));
      HPA_H5_CHECK(
          H5Pset_virtual(dcpl.get(), space.get(), source_file.c_str(), path.c_str(), source_space.get()),
          path);
    }
  }
  HPA_H5_CHECK(H5Sselect_all(space.get()), path);
  h5::create_dataset(file, path, type, space.get(), dcpl.get());
}

struct LayerRow {
  int64_t index;
  char name[64];
  int64_t filters, channels, kernel, stride, padding;
};

h5::Handle layer_row_type() {
  h5::Handle name_type(HPA_H5_CHECK(H5Tcopy(H5T_C_S1), "layers"), H5Tclose);
  HPA_H5_CHECK(H5Tset_size(name_type.get(), 64), "layers");
  h5::Handle type(HPA_H5_CHECK(H5Tcreate(H5T_COMPOUND, sizeof(LayerRow)), "layers"), H5Tclose);
  HPA_H5_CHECK(H5Tinsert(type.get(), "index", HOFFSET(LayerRow, index), H5T_NATIVE_INT64), "layers");
  HPA_H5_CHECK(H5Tinsert(type.get(), "name", HOFFSET(LayerRow, name), name_type.get()), "layers");
  HPA_H5_CHECK(H5Tinsert(type.get(), "filters", HOFFSET(LayerRow, filters), H5T_NATIVE_INT64), "layers");
  HPA_H5_CHECK(H5Tinsert(type.get(), "channels", HOFFSET(LayerRow, channels), H5T_NATIVE_INT64), "layers");
  HPA_H5_CHECK(H5Tinsert(type.get(), "kernel", HOFFSET(LayerRow, kernel), H5T_NATIVE_INT64), "layers");
  HPA_H5_CHECK(H5Tinsert(type.get(), "stride", HOFFSET(LayerRow, stride), H5T_NATIVE_INT64), "layers");
  HPA_H5_CHECK(H5Tinsert(type.get(), "padding", HOFFSET(LayerRow, padding), H5T_NATIVE_INT64), "layers");
  return type;
}

void write_layers(hid_t file, const std::vector<LayerRecord>& layers) {
  std::vector<LayerRow> rows;
  for (const LayerRecord& layer : layers) {
    LayerRow row{};
    row.index = layer.index;
    std::snprintf(row.name, sizeof row.name, "%s", layer.name.c_str());
    row.filters = layer.filters;
    row.channels = layer.channels;
    row.kernel = layer.kernel;
    row.stride = layer.stride;
    row.padding = layer.padding;
    rows.push_back(row);
  }
  h5::Handle type = layer_row_type();
  h5::Handle space = h5::make_space({static_cast<hsize_t>(rows.size())});
  h5::Handle dataset = h5::create_dataset(file, "model/layers", type.get(), space.get());
  HPA_H5_CHECK(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()),
               "model/layers");
}

std::vector<LayerRecord> read_layers(hid_t file, const std::string& path) {
  h5::Handle dataset = h5::open_dataset(file, "model/layers", path);
  const std::vector<hsize_t> dims = h5::dataset_dims(dataset.get());
  if (dims.size() != 1) HPA_FAIL(path << ": model/layers is not a table");
  std::vector<LayerRow> rows(h5::stored_elements(dataset.get(), "model/layers", path));
  h5::Handle type = layer_row_type();
  if (!rows.empty())
    HPA_H5_CHECK(H5Dread(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), path);
  std::vector<LayerRecord> layers;
  for (LayerRow& row : rows) {
    row.name[sizeof row.name - 1] = 0;
    layers.push_back({row.index, row.name, row.filters, row.channels, row.kernel, row.stride, row.padding});
  }
  return layers;
}

// Refuses an integer attribute outside the range hpa writes, before anything is sized from it.
void require_attr_in(const std::string& path, const char* name, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi)
    HPA_FAIL(path << ": attribute " << name << " = " << value << " is outside " << lo << ".." << hi << " (damaged file?)");
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

// A group whose attributes are `attributes`, each stored with its own type.
void write_attributes(hid_t root, const std::string& group_name, const Attributes& attributes) {
  h5::Handle group(
      HPA_H5_CHECK(H5Gcreate2(root, group_name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), group_name),
      H5Gclose);
  for (const auto& [name, value] : attributes) {
    if (const auto* i = std::get_if<int64_t>(&value))
      h5::write_attr_int(group.get(), name, *i);
    else if (const auto* d = std::get_if<double>(&value))
      h5::write_attr_double(group.get(), name, *d);
    else if (const auto* s = std::get_if<std::string>(&value))
      h5::write_attr_string(group.get(), name, *s);
    else
      h5::write_attr_ints(group.get(), name, std::get<std::vector<int64_t>>(value));
  }
}

herr_t collect_attribute_name(hid_t, const char* name, const H5A_info_t*, void* names) {
  auto* list = static_cast<std::vector<std::string>*>(names);
  if (list->size() > 1000) return 1;  // a damaged file; refused below
  list->emplace_back(name);
  return 0;
}

// The attributes of a group by their stored types: integer scalars, integer arrays, floats, strings.
Attributes read_attributes(hid_t root, const std::string& group_name, const std::string& path) {
  h5::Handle group(HPA_H5_CHECK(H5Gopen2(root, group_name.c_str(), H5P_DEFAULT), path), H5Gclose);
  std::vector<std::string> names;
  hsize_t index = 0;
  HPA_H5_CHECK(H5Aiterate2(group.get(), H5_INDEX_NAME, H5_ITER_INC, &index, collect_attribute_name, &names),
               path);
  if (names.size() > 1000)
    HPA_FAIL(path << ": group " << group_name << " holds over 1000 attributes (damaged file?)");
  Attributes attributes;
  for (const std::string& name : names) {
    h5::Handle attr(HPA_H5_CHECK(H5Aopen(group.get(), name.c_str(), H5P_DEFAULT), path), H5Aclose);
    h5::Handle type(HPA_H5_CHECK(H5Aget_type(attr.get()), path), H5Tclose);
    h5::Handle space(HPA_H5_CHECK(H5Aget_space(attr.get()), path), H5Sclose);
    const H5T_class_t type_class = H5Tget_class(type.get());
    const bool scalar = H5Sget_simple_extent_type(space.get()) == H5S_SCALAR;
    if (type_class == H5T_STRING)
      attributes[name] = h5::read_attr_string(group.get(), name, path);
    else if (type_class == H5T_INTEGER && scalar)
      attributes[name] = h5::read_attr_int(group.get(), name, path);
    else if (type_class == H5T_INTEGER && H5Sget_simple_extent_ndims(space.get()) == 1)
      attributes[name] = h5::read_attr_ints(group.get(), name, path);
    else if (type_class == H5T_FLOAT && scalar)
      attributes[name] = h5::read_attr_double(group.get(), name, path);
    else
      HPA_FAIL(path << ": attribute " << group_name << "/" << name
                    << " is neither a string, an integer, an integer list nor a float");
  }
  return attributes;
}

}  // namespace

std::vector<std::string> list_group(hid_t file, const std::string& group_path,
                                    const std::string& path_for_errors) {
  if (!h5::exists(file, group_path)) HPA_FAIL(path_for_errors << ": group '" << group_path << "' is missing");
  h5::Handle group(HPA_H5_CHECK(H5Gopen2(file, group_path.c_str(), H5P_DEFAULT), path_for_errors), H5Gclose);
  std::vector<std::string> names;
  HPA_H5_CHECK(H5Literate(group.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names),
               path_for_errors);
  return names;
}

std::string run_file_path(const std::string& run_dir) { return (fs::path(run_dir) / "run.h5").string(); }
std::string seed_dir(const std::string& run_dir, int64_t seed) {
  return (fs::path(run_dir) / ("seed_" + std::to_string(seed))).string();
}
std::string epoch_file_path(const std::string& run_dir, int64_t seed, int64_t epoch) {
  return (fs::path(run_dir) / epoch_file_name(seed, epoch)).string();
}
std::string checkpoint_path(const std::string& run_dir, int64_t seed) {
  return (fs::path(seed_dir(run_dir, seed)) / "checkpoint.h5").string();
}

bool run_directory_in_use(const std::string& run_dir) {
  if (!fs::exists(run_dir)) return false;
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    const std::string name = entry.path().filename().string();
    if (name == "run.h5" || name == "reinit.h5") return true;
    // Seed folders holding only temporaries are what a start killed before run.h5 existed leaves.
    if (name.rfind("seed_", 0) == 0 && entry.is_directory())
      for (const auto& file : fs::directory_iterator(entry.path()))
        if (file.path().filename().string().find(".tmp") == std::string::npos) return true;
  }
  return false;
}

void remove_run_outputs(const std::string& run_dir) {
  if (!fs::exists(run_dir)) return;
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    const std::string name = entry.path().filename().string();
    if (name == "run.h5" || name == "reinit.h5" || name.rfind("seed_", 0) == 0) fs::remove_all(entry.path());
  }
}

void remove_stale_temporaries(const std::string& run_dir) {
  if (!fs::exists(run_dir)) return;
  for (const auto& entry : fs::recursive_directory_iterator(run_dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > 7 && name.compare(name.size() - 7, 7, ".h5.tmp") == 0)
      fs::remove(entry.path());
  }
}

void create_run_folders(const std::string& run_dir, const RunDescription& run) {
  fs::create_directories(run_dir);
  for (int64_t seed : run.seeds) fs::create_directories(seed_dir(run_dir, seed));
}

void create_run(const std::string& run_dir, const RunDescription& run, const FileComm& comm) {
  const std::string path = run_file_path(run_dir);
  const std::string temporary = temporary_path_for(path);
  {
    h5::Handle fapl = h5::file_access(comm.comm);
    h5::Handle file = h5::create_file(temporary, fapl.get());
    const hid_t root = file.get();
    h5::write_attr_int(root, "schema_version", kSchemaVersion);
    for (const auto& [name, version] : run.versions) h5::write_attr_string(root, name + "_version", version);
    h5::write_attr_string(root, "config", run.config_text);
    if (!run.data_dir.empty()) h5::write_attr_string(root, "data_dir", run.data_dir);
    if (!run.experiment.empty()) write_attributes(root, "experiment", run.experiment);
    h5::write_attr_string(root, "arch", run.arch);
    h5::write_attr_string(root, "dataset", run.dataset);
    h5::write_attr_string(root, "init", run.init);
    h5::write_attr_string(root, "data_files", run.data_files);
    h5::write_attr_string(root, "snapshot_params", run.snapshot_params);
    std::vector<int64_t> snapshot_epochs = run.snapshot_epochs;
    if (snapshot_epochs.empty())
      for (int64_t e = 0; e <= run.epochs; ++e) snapshot_epochs.push_back(e);
    h5::write_attr_ints(root, "snapshot_epochs", snapshot_epochs);
    h5::write_attr_ints(root, "seeds", run.seeds);
    h5::write_attr_int(root, "epochs", run.epochs);
    h5::write_attr_int(root, "num_classes", run.num_classes);
    h5::write_attr_int(root, "in_channels", run.in_channels);
    h5::write_attr_int(root, "image_size", run.image_size);
    h5::write_attr_double(root, "width", run.width);
    h5::write_attr_string(root, "created", run.created.empty() ? utc_now_iso8601() : run.created);
    write_layers(root, run.layers);
    // reinit/ reaches into reinit.h5 once hpa-reinit-grid has written it (a dangling link until then).
    HPA_H5_CHECK(H5Lcreate_external("reinit.h5", "/", root, "reinit", H5P_DEFAULT, H5P_DEFAULT), temporary);
    for (const ParamShape& param : run.params)
      create_virtual(root, "params/" + param.name, H5T_IEEE_F32LE, run, to_hsize(param.shape),
                     to_hsize(param.shape));
    for (const std::string& metric : run.metrics)
      create_virtual(root, "metrics/" + metric, H5T_IEEE_F64LE, run, {}, {1});
    for (const LayerRecord& layer : run.layers) {
      const std::vector<hsize_t> filters = {static_cast<hsize_t>(layer.filters)};
      create_virtual(root, "stats/cosines/" + layer.name, H5T_IEEE_F64LE, run, filters, filters);
    }
    const std::vector<hsize_t> per_layer = {static_cast<hsize_t>(run.layers.size())};
    for (const char* name : {"stats/neg_fraction", "stats/dist_l2", "stats/dist_linf"})
      create_virtual(root, name, H5T_IEEE_F64LE, run, per_layer, per_layer);
    file.close_checked(temporary);
  }
  if (comm.rank == 0) commit_file(temporary, path);
}

RunDescription read_run(const std::string& run_dir) {
  const std::string path = run_file_path(run_dir);
  if (!fs::exists(path)) HPA_FAIL(run_dir << ": not a run directory (no run.h5)");
  h5::Handle file = h5::open_file(path, /*writable=*/false);
  const hid_t root = file.get();
  h5::require_schema_version(root, path, "run", kOldestSchemaVersion, kSchemaVersion);
  RunDescription run;
  run.config_text = h5::read_attr_string(root, "config", path);
  if (h5::has_attr(root, "data_dir")) run.data_dir = h5::read_attr_string(root, "data_dir", path);
  if (h5::exists(root, "experiment")) run.experiment = read_attributes(root, "experiment", path);
  run.arch = h5::read_attr_string(root, "arch", path);
  run.dataset = h5::read_attr_string(root, "dataset", path);
  run.init = h5::read_attr_string(root, "init", path);
  if (h5::has_attr(root, "data_files")) run.data_files = h5::read_attr_string(root, "data_files", path);
  run.seeds = h5::read_attr_ints(root, "seeds", path);
  run.epochs = h5::read_attr_int(root, "epochs", path);
  require_attr_in(path, "epochs", run.epochs, 1, kMaxEpochs);  // sizes the epoch list below
  if (h5::has_attr(root, "snapshot_params")) {  // schema 3; version 2 kept every parameter of every epoch
    run.snapshot_params = h5::read_attr_string(root, "snapshot_params", path);
    run.snapshot_epochs = h5::read_attr_ints(root, "snapshot_epochs", path);
  }
  if (run.snapshot_epochs.empty())
    for (int64_t e = 0; e <= run.epochs; ++e) run.snapshot_epochs.push_back(e);
  run.num_classes = h5::read_attr_int(root, "num_classes", path);
  run.in_channels = h5::read_attr_int(root, "in_channels", path);
  run.image_size = h5::read_attr_int(root, "image_size", path);
  run.width = h5::read_attr_double(root, "width", path);
  require_attr_in(path, "num_classes", run.num_classes, 1, kMaxClasses);
  require_attr_in(path, "in_channels", run.in_channels, 1, kMaxInChannels);
  require_attr_in(path, "image_size", run.image_size, 1, kMaxImageSize);
  if (!(run.width > 0 && run.width <= kMaxWidth))  // also refuses NaN
    HPA_FAIL(path << ": attribute width = " << run.width << " is outside (0, " << kMaxWidth << "] (damaged file?)");
  run.layers = read_layers(root, path);
  for (const std::string& name : list_group(root, "params", path)) {
    h5::Handle dataset = h5::open_dataset(root, "params/" + name, path);
    const std::vector<hsize_t> dims = h5::dataset_dims(dataset.get());
    // [seed, epoch, parameter dims...]
    if (dims.size() < 2) HPA_FAIL(path << ": params/" << name << " lacks its seed and epoch dimensions");
    run.params.push_back({name, std::vector<int64_t>(dims.begin() + 2, dims.end())});
  }
  run.metrics = list_group(root, "metrics", path);
  return run;
}

std::string hdf5_version() { return h5::library_version(); }

}  // namespace hpa::store
