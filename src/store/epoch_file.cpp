// Per-epoch snapshot files and checkpoints: written whole under a temporary name, then renamed.
#include "common/error.hpp"
#include "common/fault.hpp"
#include "store/atomic_file.hpp"
#include "store/h5.hpp"
#include "store/run_directory.hpp"

#include <ATen/Functions.h>

#include <filesystem>

namespace hpa::store {

std::vector<std::string> list_group(hid_t file, const std::string& group_path,
                                    const std::string& path_for_errors);

namespace {

// Every rank creates every dataset (HDF5 metadata is collective) and writes its share of the rows of
// each tensor.
void write_tensors(hid_t file, const std::string& group, const NamedTensors& tensors,
                   const FileComm& comm = {}) {
  for (const auto& [name, tensor] : tensors) {
    const at::Tensor values = tensor.detach().to(at::kCPU, at::kFloat).contiguous();
    const auto sizes = values.sizes();
    h5::write_floats_shared(file, group + "/" + name, values.data_ptr<float>(), {sizes.begin(), sizes.end()},
                            comm.rank, comm.size);
  }
}

NamedTensors read_tensors(hid_t file, const std::string& group, const std::string& path) {
  NamedTensors tensors;
  for (const std::string& name : list_group(file, group, path))
    tensors.emplace_back(name, h5::read_floats(file, group + "/" + name, path));
  return tensors;
}

h5::Handle open_epoch_file(const std::string& path) {
  if (!std::filesystem::exists(path)) HPA_FAIL(path << ": epoch file is missing");
  h5::Handle file = h5::open_file(path, /*writable=*/false);
  h5::require_schema_version(file.get(), path, "run", kOldestSchemaVersion, kSchemaVersion);
  return file;
}

}  // namespace

void write_epoch_file(const std::string& run_dir, const EpochSnapshot& snapshot, const FileComm& comm) {
  const std::string path = epoch_file_path(run_dir, snapshot.seed, snapshot.epoch);
  const std::string temporary = temporary_path_for(path);
  const bool is_root = comm.rank == 0;
  {
    h5::Handle fapl = h5::file_access(comm.comm);
    h5::Handle file = h5::create_file(temporary, fapl.get());
    const hid_t root = file.get();
    h5::write_attr_int(root, "schema_version", kSchemaVersion);
    h5::write_attr_int(root, "seed", snapshot.seed);
    h5::write_attr_int(root, "epoch", snapshot.epoch);
    write_tensors(root, "params", snapshot.params, comm);
    fault_point("epoch_write", comm.rank);  // the other ranks are inside the collective write
    for (const auto& [name, value] : snapshot.metrics)
      h5::write_doubles(root, "metrics/" + name, {value}, {1}, is_root);
    const hsize_t num_layers = snapshot.neg_fraction.size();
    HPA_INTERNAL_CHECK(snapshot.layer_names.size() == snapshot.cosines.size(), "one name per layer");
    for (size_t l = 0; l < snapshot.cosines.size(); ++l) {
      const at::Tensor cosines = snapshot.cosines[l].to(at::kDouble).contiguous();
      const double* data = cosines.data_ptr<double>();
      h5::write_doubles(root, "stats/cosines/" + snapshot.layer_names[l],
                        std::vector<double>(data, data + cosines.numel()),
                        {static_cast<hsize_t>(cosines.numel())}, is_root);
    }
    h5::write_doubles(root, "stats/neg_fraction", snapshot.neg_fraction, {num_layers}, is_root);
    h5::write_doubles(root, "stats/dist_l2", snapshot.dist_l2, {num_layers}, is_root);
    h5::write_doubles(root, "stats/dist_linf", snapshot.dist_linf, {num_layers}, is_root);
    file.close_checked(temporary);  // collective: every rank's share is in the file after this
  }
  if (is_root) commit_file(temporary, path);
}

NamedTensors read_epoch_params(const std::string& path) {
  h5::Handle file = open_epoch_file(path);
  return read_tensors(file.get(), "params", path);
}

NamedTensors read_epoch_tensors(const std::string& path, const std::vector<std::string>& names) {
  h5::Handle file = open_epoch_file(path);
  NamedTensors tensors;
  for (const std::string& name : names)
    tensors.emplace_back(name, h5::read_floats(file.get(), "params/" + name, path));
  return tensors;
}

std::vector<double> read_epoch_neg_fraction(const std::string& path) {
  h5::Handle file = open_epoch_file(path);
  return h5::read_doubles(file.get(), "stats/neg_fraction", path);
}

bool epoch_file_exists(const std::string& run_dir, int64_t seed, int64_t epoch) {
  return std::filesystem::exists(epoch_file_path(run_dir, seed, epoch));
}

void write_checkpoint(const std::string& run_dir, const Checkpoint& checkpoint) {
  const std::string path = checkpoint_path(run_dir, checkpoint.seed);
  const std::string temporary = temporary_path_for(path);
  {
    h5::Handle file = h5::create_file(temporary);
    h5::write_attr_int(file.get(), "schema_version", kSchemaVersion);
    h5::write_attr_int(file.get(), "seed", checkpoint.seed);
    h5::write_attr_int(file.get(), "epoch", checkpoint.epoch);
    h5::write_attr_int(file.get(), "step", checkpoint.progress.step);
    h5::write_attr_double(file.get(), "train_loss_sum", checkpoint.progress.loss_sum);
    h5::write_attr_double(file.get(), "train_correct", checkpoint.progress.correct);
    h5::write_attr_double(file.get(), "train_correct_top5", checkpoint.progress.correct_top5);
    write_tensors(file.get(), "params", checkpoint.params);
    write_tensors(file.get(), "momentum", checkpoint.momenta);
    file.close_checked(temporary);
  }
  commit_file(temporary, path);
}

bool read_checkpoint(const std::string& run_dir, int64_t seed, Checkpoint& checkpoint) {
  const std::string path = checkpoint_path(run_dir, seed);
  if (!std::filesystem::exists(path)) return false;
  h5::Handle file = h5::open_file(path, /*writable=*/false);
  h5::require_schema_version(file.get(), path, "checkpoint", kOldestSchemaVersion, kSchemaVersion);
  checkpoint.seed = h5::read_attr_int(file.get(), "seed", path);
  checkpoint.epoch = h5::read_attr_int(file.get(), "epoch", path);
  checkpoint.progress = {};
  if (h5::has_attr(file.get(), "step")) {  // absent in checkpoints of hpa before mid-epoch resume
    checkpoint.progress.step = h5::read_attr_int(file.get(), "step", path);
    checkpoint.progress.loss_sum = h5::read_attr_double(file.get(), "train_loss_sum", path);
    checkpoint.progress.correct = h5::read_attr_double(file.get(), "train_correct", path);
    checkpoint.progress.correct_top5 = h5::read_attr_double(file.get(), "train_correct_top5", path);
  }
  if (checkpoint.progress.step < 0) HPA_FAIL(path << ": negative step " << checkpoint.progress.step);
  if (checkpoint.seed != seed)
    HPA_FAIL(path << ": checkpoint of seed " << checkpoint.seed << " in the folder of seed " << seed);
  checkpoint.params = read_tensors(file.get(), "params", path);
  checkpoint.momenta = read_tensors(file.get(), "momentum", path);
  return true;
}

}  // namespace hpa::store
