// Every option of hpa-train with its default, in one struct, plus its Boost description and the
// checks that turn bad values into errors naming the option.
#pragma once

#include "data/samples.hpp"

#include <boost/program_options/options_description.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace hpa::train {

struct TrainOptions {
  std::string arch = "lenet";
  std::string init;  // empty: the architecture's default
  double width = 1.0;
  double dropout = 0.5;
  std::string dataset = "fashion-mnist";
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string out;
  int64_t epochs = 10;
  int64_t batch_size = 128;
  int64_t eval_batch_size = 1000;
  double lr = 0.01;
  std::string lr_schedule = "step";
  int64_t lr_step = 25;
  double lr_decay = 0.0;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  std::string seeds_text = "0";
  int64_t threads = 0;
  bool oversubscribe_threads = false;
  std::string device = "cpu";
  bool tf32 = true;            // CUDA: TF32 in cuDNN convolutions (common/device.hpp)
  bool deterministic = false;  // CUDA: deterministic cuDNN, no autotuning
  double val_fraction = 0.1;
  bool stratified = false;
  bool augment = true;
  std::string flip = "auto";  // validate() resolves auto: off for mnist and fashion-mnist, else on
  double label_noise = 0.0;   // fraction of the training split with a wrong label
  bool pixel_shuffle = false;
  int64_t noise_seed = 0;     // fixes the noisy labels and pixel permutations (not the training seed)
  int64_t classes = 0;        // keep this many classes, drawn by class_seed (0: all)
  int64_t class_seed = 42;
  std::string normalize = "auto";
  int64_t image_size = 224;   // imagenet: the side of the crops the model sees
  int64_t eval_resize = 256;  // imagenet: the shorter side before the evaluation's center crop
  bool dct_scaling = true;    // imagenet: decode JPEGs at 1/2, 1/4 or 1/8 scale where the crop allows
  int64_t data_threads = 0;   // imagenet: decoding threads per rank (0: --threads)
  int64_t batches_ahead = 3;
  int64_t train_subset = 0;
  int64_t test_subset = 0;
  int64_t ranks_per_seed = 0;
  std::string snapshot_params = "all";      // all, or conv (linear layers at epoch 0 and the last only)
  std::string snapshot_epochs_text = "all";  // epochs whose parameters are kept (0 and the last always)
  double checkpoint_minutes = 60.0;  // also checkpoint mid-epoch this often (wall time)
  double bucket_mb = 25.0;
  bool overlap = true;
  bool resume = false;
  bool overwrite = false;
  bool dry_run = false;
  std::string loss_log;
  std::string sample_log;

  std::vector<int64_t> seeds;            // parsed from seeds_text by validate()
  std::vector<int64_t> snapshot_epochs;  // parsed from snapshot_epochs_text by validate()
};

boost::program_options::options_description describe_train_options(TrainOptions& options);

// The options a run stored (its resolved configuration text), read back with the same names and
// defaults; options this hpa does not know are ignored. Throws naming `source` when malformed.
TrainOptions read_stored_options(const std::string& config_text, const std::string& source);

// The options that change what training computes, each as "--name value", where `stored` and
// `wanted` differ (empty: the same experiment). Threads, logging, devices, communication and
// checkpoint settings are not among them.
std::vector<std::string> differing_result_options(const TrainOptions& stored, const TrainOptions& wanted);

// Checks every value; throws hpa::Error naming the option at fault. Fills `seeds`.
void validate(TrainOptions& options);

// --snapshot-epochs: "all", or increasing items "E", "A-B" or "A-B:STEP" separated by commas, in
// 0..epochs; 0 and `epochs` are added. Throws naming --snapshot-epochs on empty, decreasing,
// out-of-range or malformed text.
std::vector<int64_t> parse_snapshot_epochs(const std::string& text, int64_t epochs);

// "1,2,5" or "0-3" or "1,4-6" -> list; throws naming --seeds on malformed text or duplicates.
std::vector<int64_t> parse_seed_list(const std::string& text);

// The normalization --normalize names for `dataset`: auto is imagenet's published constants for
// imagenet and the training split's own statistics for the others.
data::NormalizationKind resolve_normalization(const std::string& normalize, const std::string& dataset);


}  // namespace hpa::train
