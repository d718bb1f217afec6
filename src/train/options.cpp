// hpa-train options and their validation.
#include "train/options.hpp"

#include "cli/options.hpp"
#include "common/error.hpp"
#include "store/run_directory.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <set>
#include <sstream>

namespace hpa::train {

namespace po = boost::program_options;

po::options_description describe_train_options(TrainOptions& o) {
  po::options_description model("model");
  model.add_options()("arch", po::value(&o.arch)->default_value(o.arch),
                      "vgg11 vgg13 vgg16 vgg19 vgg19_orig alexnet lenet")(
      "init", po::value(&o.init)->default_value(""),
      "torchvision, paper or normal-0.01 (default: torchvision, what the paper's code ran; vgg19_orig: "
      "normal-0.01; --resume: the run's own)")(
      "width", po::value(&o.width)->default_value(o.width), "channel width multiplier, in (0, 16]")(
      "dropout", po::value(&o.dropout)->default_value(o.dropout),
      "dropout probability of the classifier, in [0, 1)");
  po::options_description data("data");
  data.add_options()(
      "dataset", po::value(&o.dataset)->default_value(o.dataset),
      "mnist, fashion-mnist (IDX files), cifar10 or cifar100 (binary version), imagenet (train.h5 "
      "and val.h5 made by hpa-pack)")("data-dir", po::value(&o.data_dir)->default_value(o.data_dir),
                                      "folder with the dataset's files")(
      "val-fraction", po::value(&o.val_fraction)->default_value(o.val_fraction),
      "share of the training set held out for validation, in [0, 1)")(
      "stratified", cli::flag(&o.stratified),
      "hold out the same share of every class")("augment", cli::flag(&o.augment),
                                                "random crops (4-pixel shifts; imagenet: RandomResizedCrop) and, with --flip, horizontal flips")(
      "flip", po::value(&o.flip)->default_value(o.flip),
      "on, off or auto (off for mnist and fashion-mnist as in the paper's code, else on): random "
      "horizontal flips when --augment")(
      "label-noise", po::value(&o.label_noise)->default_value(o.label_noise),
      "fraction in [0, 1] of the training split (never validation or test) whose label y becomes "
      "(y + U{1..C-1}) mod C, fixed by --noise-seed (1: random labels, Fig. 6)")(
      "pixel-shuffle", cli::flag(&o.pixel_shuffle),
      "every training-split image gets its own fixed random permutation of its pixel positions, drawn "
      "from --noise-seed, applied to all channels after augmentation (Fig. 20)")(
      "noise-seed", po::value(&o.noise_seed)->default_value(o.noise_seed),
      "seed of --label-noise and --pixel-shuffle (the same for every training seed)")(
      "classes", po::value(&o.classes)->default_value(o.classes),
      "keep a random subset of this many classes, relabelled 0..K-1, in every split (0: all)")(
      "class-seed", po::value(&o.class_seed)->default_value(o.class_seed), "seed that draws --classes")(
      "normalize", po::value(&o.normalize)->default_value(o.normalize),
      "dataset (train mean/std), unit ([0,1]), symmetric ([-1,1]), imagenet (torchvision's constants) or "
      "auto "
      "(imagenet for imagenet, else dataset)")(
      "image-size", po::value(&o.image_size)->default_value(o.image_size),
      "imagenet: side of the training crops (RandomResizedCrop) and of the evaluation's center crop")(
      "eval-resize", po::value(&o.eval_resize)->default_value(o.eval_resize),
      "imagenet: evaluation resizes the shorter side to this before the center crop")(
      "dct-scaling", cli::flag(&o.dct_scaling),
      "imagenet: decode JPEGs at 1/2, 1/4 or 1/8 size when the crop is that much larger than the output "
      "(false: full-size decode, pixel-identical to torchvision with PIL)")(
      "data-threads", po::value(&o.data_threads)->default_value(o.data_threads),
      "imagenet: image decoding threads per rank (0: the rank's --threads)")(
      "batches-ahead", po::value(&o.batches_ahead)->default_value(o.batches_ahead),
      "batches prepared ahead of training, at most")(
      "train-subset", po::value(&o.train_subset)->default_value(o.train_subset),
      "use only the first N training samples (0: all)")(
      "test-subset", po::value(&o.test_subset)->default_value(o.test_subset),
      "use only the first N test samples (0: all)");
  po::options_description optim("optimization");
  optim.add_options()("epochs", po::value(&o.epochs)->default_value(o.epochs),
                      "training epochs (epoch 0 is the init)")(
      "batch-size", po::value(&o.batch_size)->default_value(o.batch_size),
      "global batch size, split over a seed group's ranks")(
      "eval-batch-size", po::value(&o.eval_batch_size)->default_value(o.eval_batch_size),
      "batch size of evaluation")("lr", po::value(&o.lr)->default_value(o.lr), "base learning rate (> 0)")(
      "lr-schedule", po::value(&o.lr_schedule)->default_value(o.lr_schedule), "step, exp or mult")(
      "lr-step", po::value(&o.lr_step)->default_value(o.lr_step), "step schedule: epochs between decays")(
      "lr-decay", po::value(&o.lr_decay)->default_value(o.lr_decay),
      "decay factor; 0 = schedule default (step 0.1, exp 10^(-1/25), mult 0.95)")(
      "momentum", po::value(&o.momentum)->default_value(o.momentum), "SGD momentum in [0, 1)")(
      "weight-decay", po::value(&o.weight_decay)->default_value(o.weight_decay), "L2 weight decay (>= 0)");
  po::options_description run("run");
  run.add_options()("out", po::value(&o.out)->default_value(""), "run directory to create (required)")(
      "seeds", po::value(&o.seeds_text)->default_value(o.seeds_text),
      "seeds to train: list and ranges, e.g. 0,1 or 0-9")(
      "ranks-per-seed", po::value(&o.ranks_per_seed)->default_value(o.ranks_per_seed),
      "ranks that train one seed together (0: world size / number of seeds, at least 1)")(
      "bucket-mb", po::value(&o.bucket_mb)->default_value(o.bucket_mb),
      "gradient allreduce bucket size in MiB (the first bucket is 1 MiB)")(
      "overlap", cli::flag(&o.overlap),
      "launch each bucket's allreduce from backward hooks as gradients become ready (false: one allreduce "
      "after backward)")(
      "device", po::value(&o.device)->default_value(o.device),
      "cpu or cuda (GPU local_rank % GPUs per node; several ranks per seed then need the NCCL build)")(
      "tf32", cli::flag(&o.tf32),
      "cuda: TF32 products in cuDNN convolutions (PyTorch's default; false: full fp32, as on the CPU)")(
      "deterministic", cli::flag(&o.deterministic),
      "cuda: deterministic cuDNN algorithms, no autotuning: a run repeats bit for bit on the same GPU and "
      "software (slower)")(
      "threads", po::value(&o.threads)->default_value(o.threads),
      "compute threads per rank (0: SLURM_CPUS_PER_TASK, else the CPUs the rank is bound to, else cores / "
      "ranks on the node); more than the rank's CPUs is refused")(
      "oversubscribe-threads", cli::flag(&o.oversubscribe_threads),
      "allow more compute threads than the CPUs this rank may run on (its affinity mask)")(
      "resume", cli::flag(&o.resume),
      "continue an interrupted run in --out at the step where it stopped (the experiment's options must be "
      "the same)")(
      "snapshot-params", po::value(&o.snapshot_params)->default_value(o.snapshot_params),
      "parameters kept in the epoch files: all, or conv (every conv weight and bias; linear layers only at "
      "epoch 0 and the last epoch, which the statistic and the re-initialization grid need)")(
      "snapshot-epochs", po::value(&o.snapshot_epochs_text)->default_value(o.snapshot_epochs_text),
      "epochs whose parameters are kept, e.g. 0-5,10,20-75:5 (0 and the last epoch always); metrics and "
      "statistics are kept for every epoch")(
      "checkpoint-minutes", po::value(&o.checkpoint_minutes)->default_value(o.checkpoint_minutes),
      "checkpoint (parameters and momenta, to --resume from) at the first step or epoch end after this "
      "many minutes of wall time (> 0), and at the last epoch; SIGUSR2 or SIGTERM checkpoint at once and "
      "end the run with exit status 75 for a requeue")(
      "overwrite", cli::flag(&o.overwrite), "delete hpa's files in --out and start again")(
      "dry-run", cli::flag(&o.dry_run),
      "check everything, print the resolved configuration, do not train")(
      "loss-log", po::value(&o.loss_log)->default_value(""),
      "write 'seed epoch step loss' per training step to this file")(
      "sample-log", po::value(&o.sample_log)->default_value(""),
      "write 'seed epoch step i1 i2 ...' per training step to this file: the global batch as positions "
      "in the seed's training split (with --val-fraction 0, the training images in file order after "
      "--train-subset), for reproducing training elsewhere");
  po::options_description all;
  all.add(model).add(data).add(optim).add(run);
  return all;
}

std::vector<int64_t> parse_snapshot_epochs(const std::string& text, int64_t epochs) {
  const std::string option = "--snapshot-epochs " + text;
  std::vector<int64_t> result = {0};
  if (text == "all") {
    result.resize(static_cast<size_t>(epochs + 1));
    for (int64_t e = 0; e <= epochs; ++e) result[static_cast<size_t>(e)] = e;
    return result;
  }
  HPA_REQUIRE(!text.empty(), "--snapshot-epochs: the list is empty (use all, or e.g. 0-5,10,20-75:5)");
  const auto number = [&](const std::string& token) {
    HPA_REQUIRE(!token.empty() && token.size() < 10 && token.find_first_not_of("0123456789") == std::string::npos,
                option << ": '" << token << "' is not a non-negative integer");
    return static_cast<int64_t>(std::stoll(token));
  };
  std::vector<int64_t> listed;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const size_t dash = item.find('-'), colon = item.find(':');
    if (dash == std::string::npos) {
      HPA_REQUIRE(colon == std::string::npos, option << ": a step needs a range, as in 20-75:5");
      listed.push_back(number(item));
      continue;
    }
    const int64_t first = number(item.substr(0, dash));
    const int64_t last = number(item.substr(dash + 1, colon == std::string::npos ? std::string::npos : colon - dash - 1));
    const int64_t step = colon == std::string::npos ? 1 : number(item.substr(colon + 1));
    HPA_REQUIRE(first <= last, option << ": the range '" << item << "' decreases");
    HPA_REQUIRE(step >= 1, option << ": the step of '" << item << "' must be positive");
    for (int64_t e = first; e <= last; e += step) listed.push_back(e);
  }
  HPA_REQUIRE(!listed.empty() && text.back() != ',', option << ": the list is empty or ends with a comma");
  for (size_t i = 1; i < listed.size(); ++i)
    HPA_REQUIRE(listed[i] > listed[i - 1],
                option << ": epochs must increase (" << listed[i - 1] << " then " << listed[i] << ")");
  HPA_REQUIRE(listed.back() <= epochs, option << ": epoch " << listed.back() << " is beyond --epochs " << epochs);
  for (int64_t e : listed)
    if (e != 0) result.push_back(e);
  if (result.back() != epochs) result.push_back(epochs);
  return result;
}

std::vector<int64_t> parse_seed_list(const std::string& text) {
  const std::vector<int64_t> seeds = cli::parse_index_list(text, "--seeds");
  HPA_REQUIRE(std::set<int64_t>(seeds.begin(), seeds.end()).size() == seeds.size(),
              "--seeds " << text << ": a seed appears twice");
  return seeds;
}

TrainOptions read_stored_options(const std::string& config_text, const std::string& source) {
  TrainOptions options;
  po::options_description description = describe_train_options(options);
  std::istringstream text(config_text);
  try {
    po::variables_map values;
    po::store(po::parse_config_file(text, description, /*allow_unregistered=*/true), values);
    po::notify(values);
    options.seeds = parse_seed_list(options.seeds_text);
    // Runs made before --flip existed always flipped when augmenting.
    if (values["flip"].defaulted()) options.flip = "on";
  } catch (const po::error& error) {
    HPA_FAIL(source << ": its stored hpa-train configuration does not parse: " << error.what());
  }
  return options;
}

namespace {

template <typename T>
std::string option_text(const T& value) {
  std::ostringstream out;
  out << std::boolalpha << std::setprecision(12) << value;
  return out.str();
}

}  // namespace

std::vector<std::string> differing_result_options(const TrainOptions& stored, const TrainOptions& wanted) {
  std::vector<std::string> differences;
  const auto compare = [&](const char* name, const auto& a, const auto& b) {
    if (a != b)
      differences.push_back(std::string("--") + name + " " + option_text(a) + " (now " + option_text(b) + ")");
  };
  compare("arch", stored.arch, wanted.arch);
  compare("width", stored.width, wanted.width);
  compare("dropout", stored.dropout, wanted.dropout);
  compare("dataset", stored.dataset, wanted.dataset);
  compare("val-fraction", stored.val_fraction, wanted.val_fraction);
  compare("stratified", stored.stratified, wanted.stratified);
  compare("augment", stored.augment, wanted.augment);
  compare("flip", stored.flip, wanted.flip);
  compare("label-noise", stored.label_noise, wanted.label_noise);
  compare("pixel-shuffle", stored.pixel_shuffle, wanted.pixel_shuffle);
  if (stored.label_noise > 0 || stored.pixel_shuffle) compare("noise-seed", stored.noise_seed, wanted.noise_seed);
  compare("classes", stored.classes, wanted.classes);
  if (stored.classes > 0) compare("class-seed", stored.class_seed, wanted.class_seed);
  compare("normalize", stored.normalize, wanted.normalize);
  compare("image-size", stored.image_size, wanted.image_size);
  compare("eval-resize", stored.eval_resize, wanted.eval_resize);
  compare("dct-scaling", stored.dct_scaling, wanted.dct_scaling);
  compare("train-subset", stored.train_subset, wanted.train_subset);
  compare("test-subset", stored.test_subset, wanted.test_subset);
  compare("epochs", stored.epochs, wanted.epochs);
  compare("batch-size", stored.batch_size, wanted.batch_size);
  compare("lr", stored.lr, wanted.lr);
  compare("lr-schedule", stored.lr_schedule, wanted.lr_schedule);
  compare("lr-step", stored.lr_step, wanted.lr_step);
  compare("lr-decay", stored.lr_decay, wanted.lr_decay);
  compare("momentum", stored.momentum, wanted.momentum);
  compare("weight-decay", stored.weight_decay, wanted.weight_decay);
  const auto seed_text = [](const std::vector<int64_t>& seeds) {
    std::string text;
    for (int64_t seed : seeds) text += (text.empty() ? "" : ",") + std::to_string(seed);
    return text;
  };
  compare("seeds", seed_text(stored.seeds), seed_text(wanted.seeds));
  compare("snapshot-params", stored.snapshot_params, wanted.snapshot_params);
  compare("snapshot-epochs", stored.snapshot_epochs_text, wanted.snapshot_epochs_text);
  return differences;
}

void validate(TrainOptions& o) {
  HPA_REQUIRE(!o.out.empty(), "--out is required: the run directory to write");
  HPA_REQUIRE(o.epochs >= 1 && o.epochs <= store::kMaxEpochs,
              "--epochs must be in 1.." << store::kMaxEpochs << ", got " << o.epochs);
  HPA_REQUIRE(o.batch_size >= 1, "--batch-size must be positive, got " << o.batch_size);
  HPA_REQUIRE(o.eval_batch_size >= 1, "--eval-batch-size must be positive, got " << o.eval_batch_size);
  HPA_REQUIRE(o.lr > 0 && std::isfinite(o.lr), "--lr must be > 0, got " << o.lr);
  HPA_REQUIRE(o.lr_step >= 1, "--lr-step must be positive, got " << o.lr_step);
  HPA_REQUIRE(o.lr_decay >= 0 && o.lr_decay <= 1, "--lr-decay must be in [0, 1], got " << o.lr_decay);
  HPA_REQUIRE(o.momentum >= 0 && o.momentum < 1, "--momentum must be in [0, 1), got " << o.momentum);
  HPA_REQUIRE(o.weight_decay >= 0 && std::isfinite(o.weight_decay),
              "--weight-decay must be >= 0, got " << o.weight_decay);
  HPA_REQUIRE(o.width > 0 && o.width <= store::kMaxWidth,
              "--width must be in (0, " << store::kMaxWidth << "], got " << o.width);
  HPA_REQUIRE(o.val_fraction >= 0 && o.val_fraction < 1,
              "--val-fraction must be in [0, 1), got " << o.val_fraction);
  HPA_REQUIRE(o.train_subset >= 0, "--train-subset must be >= 0, got " << o.train_subset);
  HPA_REQUIRE(o.test_subset >= 0, "--test-subset must be >= 0, got " << o.test_subset);
  HPA_REQUIRE(o.dropout >= 0 && o.dropout < 1, "--dropout must be in [0, 1), got " << o.dropout);
  HPA_REQUIRE(o.ranks_per_seed >= 0, "--ranks-per-seed must be >= 0, got " << o.ranks_per_seed);
  HPA_REQUIRE(o.bucket_mb > 0 && o.bucket_mb <= 1024,
              "--bucket-mb must be in (0, 1024], got " << o.bucket_mb);
  HPA_REQUIRE(o.checkpoint_minutes > 0 && std::isfinite(o.checkpoint_minutes),
              "--checkpoint-minutes must be > 0, got " << o.checkpoint_minutes);
  HPA_REQUIRE(o.threads >= 0, "--threads must be >= 0, got " << o.threads);
  HPA_REQUIRE(o.data_threads >= 0 && o.data_threads <= 1024,
              "--data-threads must be in 0..1024, got " << o.data_threads);
  HPA_REQUIRE(o.batches_ahead >= 1 && o.batches_ahead <= 64,
              "--batches-ahead must be in 1..64, got " << o.batches_ahead);
  HPA_REQUIRE(o.image_size >= 8 && o.image_size <= store::kMaxImageSize,
              "--image-size must be in 8.." << store::kMaxImageSize << ", got " << o.image_size);
  HPA_REQUIRE(o.eval_resize >= o.image_size && o.eval_resize <= 8192,
              "--eval-resize must be at least --image-size (" << o.image_size << ") and at most 8192, got "
                                                              << o.eval_resize);
  if (o.normalize != "auto") data::parse_normalization(o.normalize);
  HPA_REQUIRE(o.flip == "auto" || o.flip == "on" || o.flip == "off",
              "--flip must be on, off or auto, got '" << o.flip << "'");
  if (o.flip == "auto") o.flip = (o.dataset == "mnist" || o.dataset == "fashion-mnist") ? "off" : "on";
  HPA_REQUIRE(o.label_noise >= 0 && o.label_noise <= 1,
              "--label-noise must be in [0, 1], got " << o.label_noise);
  HPA_REQUIRE(o.noise_seed >= 0, "--noise-seed must be >= 0, got " << o.noise_seed);
  HPA_REQUIRE(o.classes == 0 || o.classes >= 2, "--classes must be 0 (all) or at least 2, got " << o.classes);
  HPA_REQUIRE(o.class_seed >= 0, "--class-seed must be >= 0, got " << o.class_seed);
  HPA_REQUIRE(!(o.resume && o.overwrite), "--resume and --overwrite exclude each other");
  HPA_REQUIRE(o.device == "cpu" || o.device == "cuda",
              "--device must be cpu or cuda, got '" << o.device << "'");
  o.seeds = parse_seed_list(o.seeds_text);
  HPA_REQUIRE(o.snapshot_params == "all" || o.snapshot_params == "conv",
              "--snapshot-params must be all or conv, got '" << o.snapshot_params << "'");
  o.snapshot_epochs = parse_snapshot_epochs(o.snapshot_epochs_text, o.epochs);
}

data::NormalizationKind resolve_normalization(const std::string& normalize, const std::string& dataset) {
  if (normalize == "auto")
    return dataset == "imagenet" ? data::NormalizationKind::imagenet : data::NormalizationKind::dataset;
  return data::parse_normalization(normalize);
}

}  // namespace hpa::train
