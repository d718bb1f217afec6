// The experiment, typed: ExperimentSpec is everything that changes what training computes (what
// --resume compares and run.h5 stores as typed attributes), RuntimeOptions how a job runs it
// (threads, buckets, logs, devices, checkpoints). Each field is listed once, in visit_spec and
// visit_runtime (spec.cpp); the command line and config files, the resolved configuration text,
// run.h5's attributes and the --resume comparison all come from those lists.
#pragma once

#include "data/dataset.hpp"
#include "data/samples.hpp"
#include "experiment/schedule.hpp"
#include "models/architectures.hpp"
#include "models/numerics.hpp"
#include "store/run_directory.hpp"

#include <boost/program_options/options_description.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hpa::experiment {

using data::DatasetKind;                  // data/dataset.hpp
enum class Flip { automatic, on, off };   // validate() resolves automatic: off for (fashion-)mnist
enum class SnapshotParams { all, conv };  // conv: linear layers at epoch 0 and the last only
enum class DeviceKind { cpu, cuda };

// Names as the options spell them; parse_* throw hpa::Error naming the option and the valid names.
std::string flip_name(Flip flip);
Flip parse_flip(const std::string& name);
std::string snapshot_params_name(SnapshotParams params);
SnapshotParams parse_snapshot_params(const std::string& name);
std::string device_kind_name(DeviceKind kind);
DeviceKind parse_device_kind(const std::string& name);
std::string precision_name(models::Precision precision);
// `option` names the option in errors (--precision for both programs).
models::Precision parse_precision(const std::string& name, const char* option = "--precision");
std::string memory_format_name(models::MemoryFormat format);
models::MemoryFormat parse_memory_format(const std::string& name);

struct ExperimentSpec {
  // model
  models::Arch arch = models::Arch::lenet;
  std::optional<models::InitScheme> init;  // empty: the architecture's default (--resume: the run's own)
  double width = 1.0;
  double dropout = 0.5;
  models::Precision precision = models::Precision::fp32;
  models::MemoryFormat memory_format = models::MemoryFormat::contiguous;
  // data
  DatasetKind dataset = DatasetKind::fashion_mnist;
  double val_fraction = 0.1;
  bool stratified = false;
  bool augment = true;
  Flip flip = Flip::automatic;
  double label_noise = 0.0;  // fraction of the training split with a wrong label
  bool pixel_shuffle = false;
  int64_t noise_seed = 0;  // fixes the noisy labels and pixel permutations (not the training seed)
  int64_t classes = 0;     // keep this many classes, drawn by class_seed (0: all)
  int64_t class_seed = 42;
  std::optional<data::NormalizationKind> normalize;  // empty: auto (imagenet's constants for imagenet)
  int64_t image_size = 224;                          // imagenet: the side of the crops the model sees
  int64_t eval_resize = 256;  // imagenet: the shorter side before the evaluation's center crop
  bool dct_scaling = true;    // imagenet: decode JPEGs at 1/2, 1/4 or 1/8 scale where the crop allows
  int64_t train_subset = 0;
  int64_t test_subset = 0;
  // optimization
  int64_t epochs = 10;
  int64_t batch_size = 128;
  double lr = 0.01;
  ScheduleKind lr_schedule = ScheduleKind::step;
  int64_t lr_step = 25;
  double lr_decay = 0.0;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  // what is trained and kept
  std::vector<int64_t> seeds = {0};
  SnapshotParams snapshot_params = SnapshotParams::all;
  std::string snapshot_epochs_text = "all";

  std::vector<int64_t> snapshot_epochs;  // derived from snapshot_epochs_text by validate_spec()

  bool flips() const { return flip == Flip::on; }  // after validate_spec()
  data::NormalizationKind normalization() const;   // resolves auto
  Schedule schedule() const;
  models::Numerics numerics() const { return {precision, memory_format}; }
};

struct RuntimeOptions {
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string out;
  int64_t eval_batch_size = 1000;
  int64_t data_threads = 0;  // imagenet: decoding threads per rank (0: --threads)
  int64_t batches_ahead = 3;
  int64_t ranks_per_seed = 0;
  double bucket_mb = 25.0;
  bool overlap = true;
  DeviceKind device = DeviceKind::cpu;
  bool tf32 = true;            // CUDA: TF32 in cuDNN convolutions (common/device.hpp)
  bool deterministic = false;  // CUDA: deterministic cuDNN, no autotuning
  int64_t threads = 0;
  bool oversubscribe_threads = false;
  bool resume = false;
  double checkpoint_minutes = 60.0;  // also checkpoint mid-epoch this often (wall time)
  bool overwrite = false;
  bool dry_run = false;
  std::string loss_log;
  std::string sample_log;
};

// hpa-train's options.
struct TrainOptions {
  ExperimentSpec spec;
  RuntimeOptions run;
};

// The command-line and config-file description of every option, bound to `options`.
boost::program_options::options_description describe_train_options(TrainOptions& options);

// Check every value, throwing hpa::Error naming the option at fault; resolve --flip auto and derive
// snapshot_epochs.
void validate_spec(ExperimentSpec& spec);
void validate_runtime(const RuntimeOptions& run);
void validate(TrainOptions& options);

// `name = value` lines, sorted by name: the run's resolved configuration, a human record that
// parses back with describe_train_options.
std::string config_text(const TrainOptions& options);

// The spec as run.h5's typed attributes (group /experiment) and back. A missing attribute keeps its
// default (a field newer than the run); a malformed one throws naming `source`.
store::Attributes spec_attributes(const ExperimentSpec& spec);
ExperimentSpec spec_from_attributes(const store::Attributes& attributes, const std::string& source);

// The spec and options of a stored run: from its typed attributes, or, for runs written before they
// existed, from its configuration text. The init is the run's resolved one; derived fields are filled.
ExperimentSpec stored_spec(const store::RunDescription& run, const std::string& source);
// The --data-dir a stored run was trained with.
std::string stored_data_dir(const store::RunDescription& run, const std::string& source);

// The options that change what training computes, each as "--name value (now value)", where
// `stored` and `wanted` differ (empty: the same experiment). --noise-seed counts only with noise,
// --class-seed only with --classes.
std::vector<std::string> differences(const ExperimentSpec& stored, const ExperimentSpec& wanted);

// --snapshot-epochs: "all", or increasing items "E", "A-B" or "A-B:STEP" separated by commas, in
// 0..epochs; 0 and `epochs` are added. Throws naming --snapshot-epochs on empty, decreasing,
// out-of-range or malformed text.
std::vector<int64_t> parse_snapshot_epochs(const std::string& text, int64_t epochs);

// "1,2,5" or "0-3" or "1,4-6" -> list; throws naming --seeds on malformed text or duplicates.
std::vector<int64_t> parse_seed_list(const std::string& text);
// The shortest text parse_seed_list reads back: "0-2,5".
std::string seed_list_text(const std::vector<int64_t>& seeds);

}  // namespace hpa::experiment
