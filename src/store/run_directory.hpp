// The run directory of docs/run-format.md (schema version 3; version 2 is still read): run.h5 with attributes and virtual
// datasets over the per-epoch files, seed_<s>/epoch_<eeee>.h5 snapshots and seed_<s>/checkpoint.h5.
// Every file is written under a temporary name, fsync'd and renamed: whole or absent.
// The HDF5 details stay in this folder; callers pass tensors and plain structs.
#pragma once

#include "comm/native_fwd.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace hpa::store {

inline constexpr int64_t kSchemaVersion = 3;        // written
inline constexpr int64_t kOldestSchemaVersion = 2;  // still read
inline constexpr int64_t kMaxEpochs = 100000;       // hpa-train's --epochs bound, checked on read
// The bounds on what run.h5 says the model is; read_run refuses a file outside them (a damaged width
// or class count would otherwise make hpa-reinit-grid build a model of any size).
// hpa-train refuses a job outside them, so it never writes what read_run refuses.
inline constexpr double kMaxWidth = 16;           // --width
inline constexpr int64_t kMaxImageSize = 4096;    // --image-size, and the side of IDX and CIFAR images
inline constexpr int64_t kMaxInChannels = 16;     // the datasets have 1 (gray) or 3 (RGB)
inline constexpr int64_t kMaxClasses = 1 << 20;   // an image pack may name this many classes

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Typed HDF5 attributes of one group: 64-bit integers (booleans as 0 or 1), doubles, strings and
// one-dimensional integer arrays.
using AttributeValue = std::variant<int64_t, double, std::string, std::vector<int64_t>>;
using Attributes = std::map<std::string, AttributeValue>;

// One row of the model/layers table.
struct LayerRecord {
  int64_t index = 0;  // 1-based conv index, as in the paper
  std::string name;   // module path, e.g. "features.0"
  int64_t filters = 0, channels = 0, kernel = 0, stride = 1, padding = 0;
};

struct ParamShape {
  std::string name;
  std::vector<int64_t> shape;
};

// Everything run.h5 records about the run; also what --resume compares.
struct RunDescription {
  std::string config_text;  // resolved configuration, `name = value` lines: a human record
  Attributes experiment;    // the experiment spec, typed (group /experiment; empty in older runs)
  std::string data_dir;     // the --data-dir it was trained with (empty in older runs)
  std::string arch, dataset, init;
  std::string data_files;  // "name bytes" per line, of every file the data came from
  std::string snapshot_params = "all";   // all, or conv: linear layers at epoch 0 and the last only
  std::vector<int64_t> snapshot_epochs;  // epochs whose parameters are kept (empty: every epoch)
  std::vector<int64_t> seeds;
  int64_t epochs = 0;
  int64_t num_classes = 0, in_channels = 0, image_size = 0;
  double width = 1.0;
  std::vector<ParamShape> params;
  std::vector<LayerRecord> layers;
  std::vector<std::string> metrics;
  std::map<std::string, std::string> versions;  // hpa, torch, mpi, hdf5
  std::string created;                          // UTC, ISO 8601; the same on every rank
};

// One epoch of one seed: what goes into seed_<s>/epoch_<eeee>.h5.
struct EpochSnapshot {
  int64_t seed = 0, epoch = 0;
  NamedTensors params;
  std::map<std::string, double> metrics;
  std::vector<std::string> layer_names;  // module paths, as in model/layers
  std::vector<at::Tensor> cosines;       // per layer, float64 [F]
  std::vector<double> neg_fraction, dist_l2, dist_linf;
};

// How far training has gone into the epoch after the last completed one, and that epoch's sums
// so far (its metrics come out as if it had not been interrupted).
struct EpochProgress {
  int64_t step = 0;  // optimizer steps done (0: at the epoch's start)
  double loss_sum = 0, correct = 0, correct_top5 = 0;
};

// The whole state training continues from: with every random draw keyed by (seed, epoch, sample),
// the data order, augmentation and dropout masks of the remaining steps follow from (epoch, step).
struct Checkpoint {
  int64_t seed = 0;
  int64_t epoch = 0;  // the last completed epoch
  EpochProgress progress;  // into epoch + 1
  NamedTensors params;
  NamedTensors momenta;
};

// Who writes a file together: one rank (comm == nullptr, the serial driver), or every rank of an
// MPI communicator through the MPI-IO driver, each writing a share of the datasets.
struct FileComm {
  const comm::NativeComm* comm = nullptr;  // comm::Group::native() or comm::World::native()
  int rank = 0;
  int size = 1;
};

std::string run_file_path(const std::string& run_dir);
std::string seed_dir(const std::string& run_dir, int64_t seed);
std::string epoch_file_path(const std::string& run_dir, int64_t seed, int64_t epoch);
std::string checkpoint_path(const std::string& run_dir, int64_t seed);

// True if `run_dir` holds a run: run.h5, reinit.h5, or a seed folder with a committed file (seed
// folders holding nothing or only temporaries are left by a start killed before run.h5 existed).
bool run_directory_in_use(const std::string& run_dir);
// Deletes what hpa writes in `run_dir` (run.h5, reinit.h5, seed_*/), nothing else.
void remove_run_outputs(const std::string& run_dir);

// Deletes temporaries a killed writer left behind (`*.tmp.<pid>` next to run files).
void remove_stale_temporaries(const std::string& run_dir);
// Creates the directory and the seed folders (one rank only).
void create_run_folders(const std::string& run_dir, const RunDescription& description);
// Creates run.h5 atomically; every rank of `comm` calls it (the folders must exist).
void create_run(const std::string& run_dir, const RunDescription& description, const FileComm& comm = {});
// Reads run.h5's description; throws hpa::Error if it is missing or of another schema version.
RunDescription read_run(const std::string& run_dir);

// Every rank of `comm` calls it with the same snapshot; rank 0 renames the finished file.
void write_epoch_file(const std::string& run_dir, const EpochSnapshot& snapshot, const FileComm& comm = {});
// The parameters stored in an epoch file, in the file's order (sorted by name).
NamedTensors read_epoch_params(const std::string& path);
// Only the named parameters of an epoch file (e.g. one layer's weight and bias).
NamedTensors read_epoch_tensors(const std::string& path, const std::vector<std::string>& names);
// The n_l of every conv layer stored in an epoch file, in model/layers order.
std::vector<double> read_epoch_neg_fraction(const std::string& path);
bool epoch_file_exists(const std::string& run_dir, int64_t seed, int64_t epoch);

void write_checkpoint(const std::string& run_dir, const Checkpoint& checkpoint);
// Returns false when no checkpoint exists yet.
bool read_checkpoint(const std::string& run_dir, int64_t seed, Checkpoint& checkpoint);

std::string hdf5_version();

}  // namespace hpa::store
