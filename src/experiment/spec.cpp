// The typed experiment: one list of fields per struct, and what is made from the lists.
#include "experiment/spec.hpp"

#include "cli/options.hpp"
#include "common/error.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>

namespace hpa::experiment {

namespace po = boost::program_options;

namespace {

enum Section { kModel, kData, kOptim, kRun, kNumSections };

// Every field of the spec, once: name (as the option), the field, its help section and help text.
// The order is the order of --help.
template <typename Spec, typename Visit>
void visit_spec(Spec& s, Visit&& v) {
  v("arch", s.arch, kModel, "vgg11 vgg13 vgg16 vgg19 vgg19_orig alexnet lenet");
  v("init", s.init, kModel,
    "torchvision, paper or normal-0.01 (default: torchvision, what the paper's code ran; vgg19_orig: "
    "normal-0.01; --resume: the run's own)");
  v("width", s.width, kModel, "channel width multiplier, in (0, 16]");
  v("dropout", s.dropout, kModel, "dropout probability of the classifier, in [0, 1)");
  v("precision", s.precision, kModel,
    "fp32, or bf16: autocast (convolutions and matrix products in bfloat16 with float32 accumulation) "
    "with float32 master weights, gradients, optimizer state, reduction, snapshots and checkpoints");
  v("memory-format", s.memory_format, kModel,
    "contiguous (NCHW) or channels-last (NHWC strides for 4-D weights and activations; files stay NCHW)");
  v("dataset", s.dataset, kData,
    "mnist, fashion-mnist (IDX files), cifar10 or cifar100 (binary version), imagenet (train.h5 and val.h5 "
    "made by hpa-pack)");
  v("val-fraction", s.val_fraction, kData, "share of the training set held out for validation, in [0, 1)");
  v("stratified", s.stratified, kData, "hold out the same share of every class");
  v("augment", s.augment, kData,
    "random crops (4-pixel shifts; imagenet: RandomResizedCrop) and, with --flip, horizontal flips");
  v("flip", s.flip, kData,
    "on, off or auto (off for mnist and fashion-mnist as in the paper's code, else on): random horizontal "
    "flips when --augment");
  v("label-noise", s.label_noise, kData,
    "fraction in [0, 1] of the training split (never validation or test) whose label y becomes "
    "(y + U{1..C-1}) mod C, fixed by --noise-seed (1: random labels, Fig. 6)");
  v("pixel-shuffle", s.pixel_shuffle, kData,
    "every training-split image gets its own fixed random permutation of its pixel positions, drawn from "
    "--noise-seed, applied to all channels after augmentation (Fig. 20)");
  v("noise-seed", s.noise_seed, kData,
    "seed of --label-noise and --pixel-shuffle (the same for every training seed)");
  v("classes", s.classes, kData,
    "keep a random subset of this many classes, relabelled 0..K-1, in every split (0: all)");
  v("class-seed", s.class_seed, kData, "seed that draws --classes");
  v("normalize", s.normalize, kData,
    "dataset (train mean/std), unit ([0,1]), symmetric ([-1,1]), imagenet (torchvision's constants) or auto "
    "(imagenet for imagenet, else dataset)");
  v("image-size", s.image_size, kData,
    "imagenet: side of the training crops (RandomResizedCrop) and of the evaluation's center crop");
  v("eval-resize", s.eval_resize, kData,
    "imagenet: evaluation resizes the shorter side to this before the center crop");
  v("dct-scaling", s.dct_scaling, kData,
    "imagenet: decode JPEGs at 1/2, 1/4 or 1/8 size when the crop is that much larger than the output "
    "(false: full-size decode, pixel-identical to torchvision with PIL)");
  v("train-subset", s.train_subset, kData, "use only the first N training samples (0: all)");
  v("test-subset", s.test_subset, kData, "use only the first N test samples (0: all)");
  v("epochs", s.epochs, kOptim, "training epochs (epoch 0 is the init)");
  v("batch-size", s.batch_size, kOptim, "global batch size, split over a seed group's ranks");
  v("lr", s.lr, kOptim, "base learning rate (> 0)");
  v("lr-schedule", s.lr_schedule, kOptim, "step, exp or mult");
  v("lr-step", s.lr_step, kOptim, "step schedule: epochs between decays");
  v("lr-decay", s.lr_decay, kOptim,
    "decay factor; 0 = schedule default (step 0.1, exp 10^(-1/25), mult 0.95)");
  v("momentum", s.momentum, kOptim, "SGD momentum in [0, 1)");
  v("weight-decay", s.weight_decay, kOptim, "L2 weight decay (>= 0)");
  v("seeds", s.seeds, kRun, "seeds to train: list and ranges, e.g. 0,1 or 0-9");
  v("snapshot-params", s.snapshot_params, kRun,
    "parameters kept in the epoch files: all, or conv (every conv weight and bias; linear layers only at "
    "epoch 0 and the last epoch, which the statistic and the re-initialization grid need)");
  v("snapshot-epochs", s.snapshot_epochs_text, kRun,
    "epochs whose parameters are kept, e.g. 0-5,10,20-75:5 (0 and the last epoch always); metrics and "
    "statistics are kept for every epoch");
}

// Every runtime option, once (none of them changes what training computes).
template <typename Run, typename Visit>
void visit_runtime(Run& r, Visit&& v) {
  v("data-dir", r.data_dir, kData, "folder with the dataset's files");
  v("data-threads", r.data_threads, kData,
    "imagenet: image decoding threads per rank (0: the rank's --threads)");
  v("batches-ahead", r.batches_ahead, kData, "batches prepared ahead of training, at most");
  v("eval-batch-size", r.eval_batch_size, kOptim, "batch size of evaluation");
  v("out", r.out, kRun, "run directory to create (required)");
  v("ranks-per-seed", r.ranks_per_seed, kRun,
    "ranks that train one seed together (0: world size / number of seeds, at least 1)");
  v("bucket-mb", r.bucket_mb, kRun, "gradient allreduce bucket size in MiB (the first bucket is 1 MiB)");
  v("overlap", r.overlap, kRun,
    "launch each bucket's allreduce from backward hooks as gradients become ready (false: one allreduce "
    "after "
    "backward)");
  v("device", r.device, kRun,
    "cpu or cuda (GPU local_rank % GPUs per node; several ranks per seed then need the NCCL build)");
  v("tf32", r.tf32, kRun,
    "cuda: TF32 products in cuDNN convolutions (PyTorch's default; false: full fp32, as on the CPU)");
  v("deterministic", r.deterministic, kRun,
    "cuda: deterministic cuDNN algorithms, no autotuning: a run repeats bit for bit on the same GPU and "
    "software (slower)");
  v("threads", r.threads, kRun,
    "compute threads per rank (0: SLURM_CPUS_PER_TASK, else the CPUs the rank is bound to, else cores / "
    "ranks "
    "on the node); more than the rank's CPUs is refused");
  v("oversubscribe-threads", r.oversubscribe_threads, kRun,
    "allow more compute threads than the CPUs this rank may run on (its affinity mask)");
  v("resume", r.resume, kRun,
    "continue an interrupted run in --out at the step where it stopped (the experiment's options must be the "
    "same)");
  v("checkpoint-minutes", r.checkpoint_minutes, kRun,
    "checkpoint (parameters and momenta, to --resume from) at the first step or epoch end after this many "
    "minutes of wall time (> 0), and at the last epoch; SIGUSR2 or SIGTERM checkpoint at once and end the "
    "run "
    "with exit status 75 for a requeue");
  v("overwrite", r.overwrite, kRun, "delete hpa's files in --out and start again");
  v("dry-run", r.dry_run, kRun, "check everything, print the resolved configuration, do not train");
  v("loss-log", r.loss_log, kRun, "write 'seed epoch step loss' per training step to this file");
  v("sample-log", r.sample_log, kRun,
    "write 'seed epoch step i1 i2 ...' per training step to this file: the global batch as positions in the "
    "seed's training split (with --val-fraction 0, the training images in file order after --train-subset), "
    "for reproducing training elsewhere");
}

// --- one text form per field type: what the options, the config text and the comparison read ---

std::string text(int64_t v) { return std::to_string(v); }
std::string text(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}
std::string text(bool v) { return v ? "true" : "false"; }
std::string text(const std::string& v) { return v; }
std::string text(models::Arch v) { return models::arch_name(v); }
std::string text(const std::optional<models::InitScheme>& v) { return v ? models::init_scheme_name(*v) : ""; }
std::string text(DatasetKind v) { return data::dataset_name(v); }
std::string text(Flip v) { return flip_name(v); }
std::string text(const std::optional<data::NormalizationKind>& v) {
  return v ? data::normalization_name(*v) : "auto";
}
std::string text(ScheduleKind v) { return schedule_name(v); }
std::string text(const std::vector<int64_t>& v) { return seed_list_text(v); }
std::string text(SnapshotParams v) { return snapshot_params_name(v); }
std::string text(DeviceKind v) { return device_kind_name(v); }
std::string text(models::Precision v) { return precision_name(v); }
std::string text(models::MemoryFormat v) { return memory_format_name(v); }

void parse_into(models::Arch& f, const std::string& t) { f = models::parse_arch(t); }
void parse_into(std::optional<models::InitScheme>& f, const std::string& t) {
  f = t.empty() ? std::nullopt : std::optional(models::parse_init_scheme(t));
}
void parse_into(DatasetKind& f, const std::string& t) { f = data::parse_dataset(t); }
void parse_into(Flip& f, const std::string& t) { f = parse_flip(t); }
void parse_into(std::optional<data::NormalizationKind>& f, const std::string& t) {
  f = t == "auto" ? std::nullopt : std::optional(data::parse_normalization(t));
}
void parse_into(ScheduleKind& f, const std::string& t) { f = parse_schedule(t); }
void parse_into(std::vector<int64_t>& f, const std::string& t) { f = parse_seed_list(t); }
void parse_into(SnapshotParams& f, const std::string& t) { f = parse_snapshot_params(t); }
void parse_into(DeviceKind& f, const std::string& t) { f = parse_device_kind(t); }
void parse_into(models::Precision& f, const std::string& t) { f = parse_precision(t); }
void parse_into(models::MemoryFormat& f, const std::string& t) { f = parse_memory_format(t); }

template <typename T>
constexpr bool kBoostTyped =
    std::is_same_v<T, int64_t> || std::is_same_v<T, double> || std::is_same_v<T, std::string>;

// Adds each field to its section: numbers and paths as Boost values, booleans as cli::flag, enums
// and lists as text parsed into the field by its notifier (errors name the option and valid names).
struct Describe {
  po::options_description* sections;
  template <typename T>
  void operator()(const char* name, T& field, Section section, const char* help) const {
    auto add = sections[section].add_options();
    if constexpr (std::is_same_v<T, bool>)
      add(name, cli::flag(&field), help);
    else if constexpr (kBoostTyped<T>)
      add(name, po::value(&field)->default_value(field), help);
    else
      add(name,
          po::value<std::string>()->default_value(text(field))->notifier([&field](const std::string& t) {
            parse_into(field, t);
          }),
          help);
  }
};

struct Texts {
  std::vector<std::pair<std::string, std::string>>* out;
  template <typename T>
  void operator()(const char* name, const T& field, Section, const char*) const {
    out->emplace_back(name, text(field));
  }
};

struct ToAttributes {
  store::Attributes* out;
  template <typename T>
  void operator()(const char* name, const T& field, Section, const char*) const {
    if constexpr (std::is_same_v<T, bool>)
      (*out)[name] = int64_t{field ? 1 : 0};
    else if constexpr (kBoostTyped<T> || std::is_same_v<T, std::vector<int64_t>>)
      (*out)[name] = field;
    else
      (*out)[name] = text(field);
  }
};

struct FromAttributes {
  const store::Attributes* in;
  const std::string* source;
  template <typename Want>
  const Want& get(const char* name, const store::AttributeValue& value) const {
    const Want* got = std::get_if<Want>(&value);
    HPA_REQUIRE(got, *source << ": attribute experiment/" << name << " has the wrong type");
    return *got;
  }
  template <typename T>
  void operator()(const char* name, T& field, Section, const char*) const {
    const auto found = in->find(name);
    if (found == in->end()) return;  // a field newer than the run: its default
    if constexpr (std::is_same_v<T, bool>) {
      field = get<int64_t>(name, found->second) != 0;
    } else if constexpr (kBoostTyped<T> || std::is_same_v<T, std::vector<int64_t>>) {
      field = get<T>(name, found->second);
    } else {
      try {
        parse_into(field, get<std::string>(name, found->second));
      } catch (const Error& error) {
        HPA_FAIL(*source << ": attribute experiment/" << name << ": " << error.what());
      }
    }
  }
};

template <typename Kind, size_t N>
Kind parse_named(const std::string& name, const std::pair<Kind, const char*> (&names)[N],
                 const char* option) {
  for (const auto& [kind, spelled] : names)
    if (name == spelled) return kind;
  std::string valid;
  for (size_t i = 0; i < N; ++i)
    valid += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + names[i].second;
  HPA_FAIL(option << " must be " << valid << ", got '" << name << "'");
}

template <typename Kind, size_t N>
std::string name_of(Kind kind, const std::pair<Kind, const char*> (&names)[N]) {
  for (const auto& [k, spelled] : names)
    if (k == kind) return spelled;
  return "?";
}

constexpr std::pair<Flip, const char*> kFlips[] = {
    {Flip::on, "on"}, {Flip::off, "off"}, {Flip::automatic, "auto"}};
constexpr std::pair<SnapshotParams, const char*> kSnapshotParams[] = {{SnapshotParams::all, "all"},
                                                                      {SnapshotParams::conv, "conv"}};
constexpr std::pair<DeviceKind, const char*> kDevices[] = {{DeviceKind::cpu, "cpu"},
                                                           {DeviceKind::cuda, "cuda"}};
constexpr std::pair<models::Precision, const char*> kPrecisions[] = {{models::Precision::fp32, "fp32"},
                                                                     {models::Precision::bf16, "bf16"}};
constexpr std::pair<models::MemoryFormat, const char*> kMemoryFormats[] = {
    {models::MemoryFormat::contiguous, "contiguous"}, {models::MemoryFormat::channels_last, "channels-last"}};

// The spec and runtime options of a run written before run.h5 held typed attributes: its stored
// configuration text, read with today's names and defaults (options this hpa does not know are ignored).
TrainOptions options_from_config_text(const std::string& config_text, const std::string& source) {
  TrainOptions options;
  po::options_description description = describe_train_options(options);
  std::istringstream in(config_text);
  try {
    po::variables_map values;
    po::store(po::parse_config_file(in, description, /*allow_unregistered=*/true), values);
    po::notify(values);
    // Runs made before --flip existed always flipped when augmenting.
    if (values["flip"].defaulted()) options.spec.flip = Flip::on;
  } catch (const po::error& error) {
    HPA_FAIL(source << ": its stored hpa-train configuration does not parse: " << error.what());
  } catch (const Error& error) {
    HPA_FAIL(source << ": its stored hpa-train configuration does not parse: " << error.what());
  }
  return options;
}

}  // namespace

std::string flip_name(Flip flip) { return name_of(flip, kFlips); }
Flip parse_flip(const std::string& name) { return parse_named(name, kFlips, "--flip"); }
std::string snapshot_params_name(SnapshotParams params) { return name_of(params, kSnapshotParams); }
SnapshotParams parse_snapshot_params(const std::string& name) {
  return parse_named(name, kSnapshotParams, "--snapshot-params");
}
std::string device_kind_name(DeviceKind kind) { return name_of(kind, kDevices); }
DeviceKind parse_device_kind(const std::string& name) { return parse_named(name, kDevices, "--device"); }
std::string precision_name(models::Precision precision) { return name_of(precision, kPrecisions); }
models::Precision parse_precision(const std::string& name, const char* option) {
  return parse_named(name, kPrecisions, option);
}
std::string memory_format_name(models::MemoryFormat format) { return name_of(format, kMemoryFormats); }
models::MemoryFormat parse_memory_format(const std::string& name) {
  return parse_named(name, kMemoryFormats, "--memory-format");
}

data::NormalizationKind ExperimentSpec::normalization() const {
  if (normalize) return *normalize;
  return dataset == DatasetKind::imagenet ? data::NormalizationKind::imagenet
                                          : data::NormalizationKind::dataset;
}

Schedule ExperimentSpec::schedule() const {
  Schedule schedule;
  schedule.kind = lr_schedule;
  schedule.base_lr = lr;
  schedule.step_epochs = static_cast<int>(lr_step);
  schedule.decay = lr_decay;
  return schedule;
}

po::options_description describe_train_options(TrainOptions& options) {
  po::options_description sections[kNumSections] = {
      po::options_description("model"), po::options_description("data"),
      po::options_description("optimization"), po::options_description("run")};
  visit_spec(options.spec, Describe{sections});
  visit_runtime(options.run, Describe{sections});
  po::options_description all;
  for (const po::options_description& section : sections) all.add(section);
  return all;
}

void validate_spec(ExperimentSpec& s) {
  HPA_REQUIRE(s.epochs >= 1 && s.epochs <= store::kMaxEpochs,
              "--epochs must be in 1.." << store::kMaxEpochs << ", got " << s.epochs);
  HPA_REQUIRE(s.batch_size >= 1, "--batch-size must be positive, got " << s.batch_size);
  HPA_REQUIRE(s.lr > 0 && std::isfinite(s.lr), "--lr must be > 0, got " << s.lr);
  HPA_REQUIRE(s.lr_step >= 1, "--lr-step must be positive, got " << s.lr_step);
  HPA_REQUIRE(s.lr_decay >= 0 && s.lr_decay <= 1, "--lr-decay must be in [0, 1], got " << s.lr_decay);
  HPA_REQUIRE(s.momentum >= 0 && s.momentum < 1, "--momentum must be in [0, 1), got " << s.momentum);
  HPA_REQUIRE(s.weight_decay >= 0 && std::isfinite(s.weight_decay),
              "--weight-decay must be >= 0, got " << s.weight_decay);
  HPA_REQUIRE(s.width > 0 && s.width <= store::kMaxWidth,
              "--width must be in (0, " << store::kMaxWidth << "], got " << s.width);
  HPA_REQUIRE(s.val_fraction >= 0 && s.val_fraction < 1,
              "--val-fraction must be in [0, 1), got " << s.val_fraction);
  HPA_REQUIRE(s.train_subset >= 0, "--train-subset must be >= 0, got " << s.train_subset);
  HPA_REQUIRE(s.test_subset >= 0, "--test-subset must be >= 0, got " << s.test_subset);
  HPA_REQUIRE(s.dropout >= 0 && s.dropout < 1, "--dropout must be in [0, 1), got " << s.dropout);
  HPA_REQUIRE(s.image_size >= 8 && s.image_size <= store::kMaxImageSize,
              "--image-size must be in 8.." << store::kMaxImageSize << ", got " << s.image_size);
  HPA_REQUIRE(s.eval_resize >= s.image_size && s.eval_resize <= 8192,
              "--eval-resize must be at least --image-size (" << s.image_size << ") and at most 8192, got "
                                                              << s.eval_resize);
  if (s.flip == Flip::automatic)
    s.flip =
        (s.dataset == DatasetKind::mnist || s.dataset == DatasetKind::fashion_mnist) ? Flip::off : Flip::on;
  HPA_REQUIRE(s.label_noise >= 0 && s.label_noise <= 1,
              "--label-noise must be in [0, 1], got " << s.label_noise);
  HPA_REQUIRE(s.noise_seed >= 0, "--noise-seed must be >= 0, got " << s.noise_seed);
  HPA_REQUIRE(s.classes == 0 || s.classes >= 2, "--classes must be 0 (all) or at least 2, got " << s.classes);
  HPA_REQUIRE(s.class_seed >= 0, "--class-seed must be >= 0, got " << s.class_seed);
  HPA_REQUIRE(!s.seeds.empty(), "--seeds: the list is empty");
  s.snapshot_epochs = parse_snapshot_epochs(s.snapshot_epochs_text, s.epochs);
}

void validate_runtime(const RuntimeOptions& r) {
  HPA_REQUIRE(!r.out.empty(), "--out is required: the run directory to write");
  HPA_REQUIRE(r.eval_batch_size >= 1, "--eval-batch-size must be positive, got " << r.eval_batch_size);
  HPA_REQUIRE(r.ranks_per_seed >= 0, "--ranks-per-seed must be >= 0, got " << r.ranks_per_seed);
  HPA_REQUIRE(r.bucket_mb > 0 && r.bucket_mb <= 1024,
              "--bucket-mb must be in (0, 1024], got " << r.bucket_mb);
  HPA_REQUIRE(r.checkpoint_minutes > 0 && std::isfinite(r.checkpoint_minutes),
              "--checkpoint-minutes must be > 0, got " << r.checkpoint_minutes);
  HPA_REQUIRE(r.threads >= 0, "--threads must be >= 0, got " << r.threads);
  HPA_REQUIRE(r.data_threads >= 0 && r.data_threads <= 1024,
              "--data-threads must be in 0..1024, got " << r.data_threads);
  HPA_REQUIRE(r.batches_ahead >= 1 && r.batches_ahead <= 64,
              "--batches-ahead must be in 1..64, got " << r.batches_ahead);
  HPA_REQUIRE(!(r.resume && r.overwrite), "--resume and --overwrite exclude each other");
}

void validate(TrainOptions& options) {
  validate_runtime(options.run);
  validate_spec(options.spec);
}

std::string config_text(const TrainOptions& options) {
  std::vector<std::pair<std::string, std::string>> lines;
  visit_spec(options.spec, Texts{&lines});
  visit_runtime(options.run, Texts{&lines});
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& [name, value] : lines) out += name + " = " + value + "\n";
  return out;
}

store::Attributes spec_attributes(const ExperimentSpec& spec) {
  store::Attributes attributes;
  visit_spec(spec, ToAttributes{&attributes});
  return attributes;
}

ExperimentSpec spec_from_attributes(const store::Attributes& attributes, const std::string& source) {
  ExperimentSpec spec;
  visit_spec(spec, FromAttributes{&attributes, &source});
  return spec;
}

ExperimentSpec stored_spec(const store::RunDescription& run, const std::string& source) {
  ExperimentSpec spec = run.experiment.empty() ? options_from_config_text(run.config_text, source).spec
                                               : spec_from_attributes(run.experiment, source);
  if (!spec.init) spec.init = models::parse_init_scheme(run.init);  // older runs stored an empty --init
  try {
    validate_spec(spec);
  } catch (const Error& error) {
    HPA_FAIL(source << ": the stored experiment is invalid: " << error.what());
  }
  return spec;
}

std::string stored_data_dir(const store::RunDescription& run, const std::string& source) {
  return run.data_dir.empty() ? options_from_config_text(run.config_text, source).run.data_dir : run.data_dir;
}

std::vector<std::string> differences(const ExperimentSpec& stored, const ExperimentSpec& wanted) {
  std::vector<std::pair<std::string, std::string>> before, now;
  visit_spec(stored, Texts{&before});
  visit_spec(wanted, Texts{&now});
  const bool noise = stored.label_noise > 0 || stored.pixel_shuffle;
  std::vector<std::string> found;
  for (size_t i = 0; i < before.size(); ++i) {
    const std::string& name = before[i].first;
    if ((name == "noise-seed" && !noise) || (name == "class-seed" && stored.classes == 0)) continue;
    if (before[i].second != now[i].second)
      found.push_back("--" + name + " " + before[i].second + " (now " + now[i].second + ")");
  }
  return found;
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
    HPA_REQUIRE(
        !token.empty() && token.size() < 10 && token.find_first_not_of("0123456789") == std::string::npos,
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
    const int64_t last =
        number(item.substr(dash + 1, colon == std::string::npos ? std::string::npos : colon - dash - 1));
    const int64_t step = colon == std::string::npos ? 1 : number(item.substr(colon + 1));
    HPA_REQUIRE(first <= last, option << ": the range '" << item << "' decreases");
    HPA_REQUIRE(step >= 1, option << ": the step of '" << item << "' must be positive");
    for (int64_t e = first; e <= last; e += step) listed.push_back(e);
  }
  HPA_REQUIRE(!listed.empty() && text.back() != ',', option << ": the list is empty or ends with a comma");
  for (size_t i = 1; i < listed.size(); ++i)
    HPA_REQUIRE(listed[i] > listed[i - 1],
                option << ": epochs must increase (" << listed[i - 1] << " then " << listed[i] << ")");
  HPA_REQUIRE(listed.back() <= epochs,
              option << ": epoch " << listed.back() << " is beyond --epochs " << epochs);
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

std::string seed_list_text(const std::vector<int64_t>& seeds) {
  std::string out;
  for (size_t i = 0; i < seeds.size();) {
    size_t j = i;
    while (j + 1 < seeds.size() && seeds[j + 1] == seeds[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(seeds[i]);
    if (j > i) out += "-" + std::to_string(seeds[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace hpa::experiment
