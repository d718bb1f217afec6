// The training loop of one seed; see trainer.hpp.
#include "train/trainer.hpp"

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/fault.hpp"
#include "common/keyed_random.hpp"
#include "common/stop_request.hpp"
#include "common/torch_compat.hpp"
#include "data/batches.hpp"
#include "data/dataset.hpp"
#include "experiment/run_data.hpp"
#include "models/parameters.hpp"
#include "stats/projection.hpp"
#include "train/evaluate.hpp"
#include "train/run_setup.hpp"
#include "train/step.hpp"
#include "train/training_state.hpp"

#include <ATen/Functions.h>
#include <torch/nn/modules/conv.h>
#include <torch/utils.h>

#include <cmath>
#include <csignal>
#include <memory>
#include <set>
#include <iomanip>
#include <sstream>

namespace hpa::train {
namespace {

constexpr double kProgressIntervalS = 30.0;

struct LayerStatsSet {
  std::vector<std::string> names;
  std::vector<at::Tensor> cosines;
  std::vector<double> neg_fraction, dist_l2, dist_linf;
};

LayerStatsSet compute_stats(models::ConvNetImpl& model, const std::vector<store::LayerRecord>& layers,
                            const store::NamedTensors& init_params) {
  LayerStatsSet result;
  const auto params = model.named_parameters();
  for (const store::LayerRecord& layer : layers) {
    const at::Tensor weight = params[layer.name + ".weight"].detach();
    const at::Tensor* init = nullptr;
    for (const auto& [name, tensor] : init_params)
      if (name == layer.name + ".weight") init = &tensor;
    HPA_INTERNAL_CHECK(init, "no init weight for " << layer.name);
    result.names.push_back(layer.name);
    result.cosines.push_back(stats::filter_cosines(weight));
    result.neg_fraction.push_back(stats::neg_fraction(result.cosines.back()));
    result.dist_l2.push_back(stats::relative_l2_distance(weight, *init));
    result.dist_linf.push_back(stats::relative_linf_distance(weight, *init));
  }
  return result;
}

}  // namespace

std::vector<std::string> metric_names() {
  return {
      "train_loss",        "train_accuracy",    "train_top5_accuracy", "val_loss",           "val_accuracy",
      "val_top5_accuracy", "test_loss",         "test_accuracy",       "test_top5_accuracy", "lr",
      "epoch_seconds",     "images_per_second", "data_wait_fraction"};
}

std::vector<store::LayerRecord> layer_records(models::ConvNetImpl& model) {
  std::vector<store::LayerRecord> layers;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    const auto* conv = item.value()->as<torch::nn::Conv2dImpl>();
    if (!conv) continue;
    const auto& options = conv->options;
    const int64_t kernel = (*options.kernel_size())[0];
    if ((*options.kernel_size())[0] == 1 && (*options.kernel_size())[1] == 1)
      continue;  // skipped, as in the paper
    const auto* padding = torch_compat::get_if<torch::ExpandingArray<2>>(&options.padding());
    layers.push_back({static_cast<int64_t>(layers.size()) + 1, item.key(), options.out_channels(),
                      options.in_channels(), kernel, (*options.stride())[0], padding ? (**padding)[0] : 0});
  }
  return layers;
}

namespace {

bool all_finite(const at::Tensor& tensor) { return at::isfinite(tensor).all().item<bool>(); }

// One epoch's training over the whole group: the sums its metrics come from, and timings.
struct EpochTotals {
  store::EpochProgress progress;  // steps done and loss / correct sums so far (resumed ones included)
  int64_t steps_here = 0;         // steps run by this process (throughput after a resume)
  double train_s = 0, data_wait_s = 0, exposed_s = 0;
};

// The trainer's own group-summed numbers of a step, after loss and correct counts (train/step.hpp).
enum TrainerSum : size_t { kStopSignal = kNumModelSums, kCheckpointDue, kNumStepSums };

// Every rank of a seed group trains one seed with it: setup, resume, then per epoch the steps and the
// epoch's end, each a small named piece.
class SeedTrainer {
 public:
  SeedTrainer(const TrainContext& context, int64_t seed);
  // True when every epoch is done; false when training stopped on a signal (checkpoint written).
  bool run();

 private:
  // Setup.
  void load_data();
  void build_model();
  // Continues after the checkpoint when there is one; returns the epoch to train next.
  int64_t resume(store::EpochProgress& progress);
  void snapshot_init();
  // One epoch's steps from progress.step on; false when the group agreed to stop in the middle.
  bool train_epoch(int64_t epoch, EpochTotals& totals);
  void train_step(int64_t epoch, int64_t step, const data::Batch& batch, const std::vector<int64_t>& positions,
                  double lr, std::vector<double>& sums);
  // After step `step`: its sums into the epoch's, and a line in --loss-log and --sample-log.
  void record_step(int64_t epoch, int64_t step, const data::Batch& batch, const std::vector<int64_t>& order,
                   const std::vector<double>& sums, EpochTotals& totals);
  // The group's requests after a step that is not the epoch's last: a checkpoint when the timer is
  // due or a signal came; returns true when the group stops (on a signal).
  bool serve_requests(int64_t epoch, int64_t step, const std::vector<double>& sums,
                      const EpochTotals& totals);
  // The epoch's end: evaluation, statistics, snapshot, checkpoint, log.
  void finish_epoch(int64_t epoch, const EpochTotals& totals);

  // Pieces.
  void check_step_finite(int64_t epoch, int64_t step, double loss);
  void check_parameters_finite(int64_t epoch);
  void write_snapshot(int64_t epoch, std::map<std::string, double> metrics, const LayerStatsSet& stats);
  void write_checkpoint(int64_t completed_epoch, const store::EpochProgress& progress);
  // Every rank of the group: the group sums of `flags`.
  std::vector<double> group_sums(std::vector<double> flags) const;
  EvalResult evaluate_set(const data::SampleSet& set);
  int64_t num_batches() const;
  // "# resumed: seed S WHERE" in --loss-log and --sample-log.
  void mark_step_logs(const std::string& where) const;
  void log_progress(int64_t epoch, int64_t step, const EpochTotals& totals, double start, double wait_s);
  void log_epoch(int64_t epoch, const EpochTotals& totals, const EvalResult& val, const EvalResult& test,
                 double lr, const LayerStatsSet& stats, double epoch_s, double snapshot_s);
  static std::string n_l_text(const LayerStatsSet& stats);

  const TrainContext& context_;
  const TrainOptions& options_;
  const comm::Group& group_;
  const int64_t seed_;
  const uint64_t useed_;
  std::unique_ptr<data::SampleSet> train_set_, val_set_, test_set_;
  std::unique_ptr<TrainingState> state_;  // model, init copy, momenta, buckets: on the device
  models::ConvNet model_{nullptr};         // state_->model
  std::vector<store::LayerRecord> layers_;
  Schedule schedule_;
  store::FileComm file_comm_;
  CheckpointTimer checkpoint_timer_;
  std::set<int64_t> snapshot_epochs_;   // epochs whose parameters go into the epoch file
  std::set<std::string> conv_params_;   // the conv weights and biases (--snapshot-params conv)
};

SeedTrainer::SeedTrainer(const TrainContext& context, int64_t seed)
    : context_(context),
      options_(context.options),
      group_(context.group),
      seed_(seed),
      useed_(static_cast<uint64_t>(seed)),
      checkpoint_timer_(context.options.run.checkpoint_minutes) {
  load_data();
  build_model();
  // Every rank writes its share of an epoch file through MPI-IO (all hold the same weights).
  if (group_.group_size() > 1) file_comm_ = {&group_.native(), group_.group_rank(), group_.group_size()};
}

// The validation split and normalization depend on the seed only; samples are chosen by index,
// the dataset itself is never copied.
void SeedTrainer::load_data() {
  experiment::SeedSamples samples = experiment::seed_samples(context_.dataset, options_.spec, seed_);
  train_set_ = std::move(samples.train);
  val_set_ = std::move(samples.validation);
  test_set_ = std::move(samples.test);
}

// Rank 0's init is everybody's (all ranks of the group).
void SeedTrainer::build_model() {
  StateOptions state_options;
  state_options.momentum = options_.spec.momentum;
  state_options.weight_decay = options_.spec.weight_decay;
  state_options.reducer.bucket_bytes = static_cast<int64_t>(options_.run.bucket_mb * (1 << 20));
  state_options.reducer.overlap = options_.run.overlap;
  state_options.numerics = options_.spec.numerics();
  state_ = std::make_unique<TrainingState>(context_.spec, context_.init, useed_, group_, context_.device,
                                           state_options);
  model_ = state_->model;
  layers_ = layer_records(*model_);
  for (const auto& item : model_->named_modules("", /*include_self=*/false))
    if (item.value()->as<torch::nn::Conv2dImpl>())
      for (const auto& param : item.value()->named_parameters(/*recurse=*/false))
        conv_params_.insert(item.key() + "." + param.key());
  snapshot_epochs_ = {options_.spec.snapshot_epochs.begin(), options_.spec.snapshot_epochs.end()};
  schedule_ = options_.spec.schedule();
}

int64_t SeedTrainer::num_batches() const {
  return (train_set_->size() + options_.spec.batch_size - 1) / options_.spec.batch_size;
}

bool SeedTrainer::run() {
  store::EpochProgress progress;
  const int64_t first_epoch = resume(progress);
  if (first_epoch == 1 && progress.step == 0) snapshot_init();
  for (int64_t epoch = first_epoch; epoch <= options_.spec.epochs; ++epoch) {
    EpochTotals totals;
    totals.progress = epoch == first_epoch ? progress : store::EpochProgress{};
    if (!train_epoch(epoch, totals)) return false;
    finish_epoch(epoch, totals);
    // A checkpoint at the epoch's end when the group stops, when the timer is due, and at the end.
    const std::vector<double> flags =
        group_sums({stop_signal_received() ? 1.0 : 0.0, group_.is_group_root() && checkpoint_timer_.due() ? 1.0 : 0.0});
    // A signal in the last epoch stops too: the seed is then complete, and the requeued job starts
    // what follows (other seeds, the grid) with its whole time limit instead of the signal's lead.
    const bool last = epoch == options_.spec.epochs, stop = flags[0] > 0;
    if (stop || flags[1] > 0 || last) write_checkpoint(epoch, {});
    if (stop) {
      if (context_.log)
        *context_.log << "seed " << seed_ << ": " << signal_name(stop_signal_number()) << " after epoch " << epoch
                      << (last ? " (the last): seed complete, checkpointed, stopping" : ": checkpointed, stopping")
                      << std::endl;
      return false;
    }
  }
  return true;
}

int64_t SeedTrainer::resume(store::EpochProgress& progress) {
  store::Checkpoint checkpoint;
  if (!options_.run.resume || !store::read_checkpoint(options_.run.out, seed_, checkpoint)) {
    if (options_.run.resume && context_.log)
      *context_.log << "seed " << seed_ << ": no checkpoint yet, training from the init" << std::endl;
    if (options_.run.resume) mark_step_logs("from the init");
    state_->start_fresh();
    return 1;
  }
  const std::string source = store::checkpoint_path(options_.run.out, seed_);
  HPA_REQUIRE(checkpoint.progress.step < num_batches(),
              source << ": step " << checkpoint.progress.step << " of epoch " << checkpoint.epoch + 1
                     << " is beyond its " << num_batches() << " steps (is --batch-size the run's?)");
  state_->load(checkpoint, store::read_epoch_params(store::epoch_file_path(options_.run.out, seed_, 0)),
               source, "the run's " + models::arch_name(options_.spec.arch));
  progress = checkpoint.progress;
  mark_step_logs(
      checkpoint.epoch == options_.spec.epochs
          ? "after epoch " + std::to_string(checkpoint.epoch) + " (the last: nothing left to train)"
          : "after epoch " + std::to_string(checkpoint.epoch) + " at step " + std::to_string(progress.step) +
                " of epoch " + std::to_string(checkpoint.epoch + 1));
  if (context_.epochs_left_in_job) *context_.epochs_left_in_job -= checkpoint.epoch;
  if (context_.log)
    *context_.log << "seed " << seed_ << ": resuming after epoch " << checkpoint.epoch << " at step "
                  << progress.step << "/" << num_batches() << " of epoch " << checkpoint.epoch + 1 << ", from "
                  << source << std::endl;
  return checkpoint.epoch + 1;
}

// Epoch 0: the init, before any step.
void SeedTrainer::snapshot_init() {
  const EvalResult val = evaluate_set(*val_set_);
  const LayerStatsSet stats = compute_stats(*model_, layers_, state_->init_params);
  std::map<std::string, double> metrics;
  for (const std::string& name : metric_names()) metrics[name] = std::nan("");
  metrics["val_loss"] = val.loss;
  metrics["val_accuracy"] = val.accuracy;
  metrics["val_top5_accuracy"] = val.top5_accuracy;
  write_snapshot(0, metrics, stats);
  if (context_.log)
    *context_.log << "seed " << seed_ << " epoch 0/" << options_.spec.epochs << " (init) | val loss "
                  << std::fixed << std::setprecision(4) << val.loss << " acc " << std::setprecision(2)
                  << 100 * val.accuracy << "% | " << n_l_text(stats) << std::endl;
}

bool SeedTrainer::train_epoch(int64_t epoch, EpochTotals& totals) {
  const int64_t num_train = train_set_->size(), batch_size = options_.spec.batch_size,
                batches = num_batches();
  const int64_t first_step = totals.progress.step;
  const double lr = schedule_.lr_at(static_cast<int>(epoch));
  const double start = wall_seconds();
  model_->train();
  const std::vector<int64_t> order =
      keyed_permutation(num_train, useed_, static_cast<uint64_t>(epoch), RandomStream::epoch_order);
  // This rank's share of global batch `step`, as positions in the training set.
  const auto share = [&](int64_t step) {
    const int64_t begin = step * batch_size, global_count = std::min(batch_size, num_train - begin);
    const auto [first, count] = data::rank_share(global_count, group_.group_rank(), group_.group_size());
    return data::BatchPlan{{order.begin() + begin + first, order.begin() + begin + first + count}, global_count};
  };
  data::BatchLoader loader(
      *train_set_, batches - first_step, [&](int64_t b) { return share(first_step + b); },
      static_cast<uint64_t>(epoch), context_.loader);
  const double exposed_before = state_->reducer->exposed_seconds();
  double last_progress = start;
  bool stopped = false;
  data::Batch batch;
  for (int64_t step = first_step; loader.next(batch); ++step) {
    std::vector<double> sums(kNumStepSums, 0.0);
    train_step(epoch, step, batch, share(step).positions, lr, sums);
    record_step(epoch, step, batch, order, sums, totals);
    // At the last step, the epoch's end checkpoints.
    if (step + 1 < batches && serve_requests(epoch, step, sums, totals)) {
      stopped = true;
      break;
    }
    if (context_.log && wall_seconds() - last_progress > kProgressIntervalS) {
      last_progress = wall_seconds();
      log_progress(epoch, step, totals, start, loader.wait_seconds());
    }
  }
  totals.train_s = wall_seconds() - start;
  totals.data_wait_s = loader.wait_seconds();
  totals.exposed_s = state_->reducer->exposed_seconds() - exposed_before;
  return !stopped;
}

void SeedTrainer::record_step(int64_t epoch, int64_t step, const data::Batch& batch,
                              const std::vector<int64_t>& order, const std::vector<double>& sums,
                              EpochTotals& totals) {
  ++totals.steps_here;
  store::EpochProgress& progress = totals.progress;
  progress.step = step + 1;
  progress.loss_sum += sums[kLoss];
  progress.correct += sums[kTop1];
  progress.correct_top5 += sums[kTop5];
  if (context_.loss_log)
    *context_.loss_log << seed_ << " " << epoch << " " << step << " " << std::setprecision(9)
                       << sums[kLoss] / static_cast<double>(batch.global_size) << std::endl;
  if (context_.sample_log) {
    const int64_t num_train = train_set_->size(), batch_size = options_.spec.batch_size;
    *context_.sample_log << seed_ << " " << epoch << " " << step;
    const int64_t begin = step * batch_size, end = std::min(num_train, begin + batch_size);
    for (int64_t i = begin; i < end; ++i) *context_.sample_log << " " << order[static_cast<size_t>(i)];
    *context_.sample_log << "\n";
  }
}

bool SeedTrainer::serve_requests(int64_t epoch, int64_t step, const std::vector<double>& sums,
                                 const EpochTotals& totals) {
  const int64_t batches = num_batches();
  if (sums[kStopSignal] > 0) {
    write_checkpoint(epoch - 1, totals.progress);
    if (context_.log)
      *context_.log << "seed " << seed_ << ": " << signal_name(stop_signal_number())
                    << ": checkpointed epoch " << epoch << " at step " << step + 1 << "/" << batches
                    << ", stopping" << std::endl;
    return true;
  }
  if (sums[kCheckpointDue] > 0) {
    write_checkpoint(epoch - 1, totals.progress);
    if (context_.log)
      *context_.log << "seed " << seed_ << ": checkpointed epoch " << epoch << " at step " << step + 1 << "/"
                    << batches << " (every " << options_.run.checkpoint_minutes << " min)" << std::endl;
  }
  return false;
}

// Every rank of the group: forward and backward of this rank's share, the group sums of gradients
// and of `sums` (loss, correct counts, stop and checkpoint requests), the SGD update.
void SeedTrainer::train_step(int64_t epoch, int64_t step, const data::Batch& batch,
                             const std::vector<int64_t>& positions, double lr, std::vector<double>& sums) {
  at::Tensor images, labels;
  if (batch.labels.numel() > 0) {
    std::vector<uint64_t> keys;  // dropout masks keyed by (seed, epoch, the sample's position)
    keys.reserve(positions.size());
    for (int64_t position : positions)
      keys.push_back(keyed_random(useed_, static_cast<uint64_t>(epoch), static_cast<uint64_t>(position),
                                  RandomStream::dropout));
    model_->set_dropout_keys(keys);
    images = batch.images.to(context_.device, /*non_blocking=*/true);
    labels = batch.labels.to(context_.device, /*non_blocking=*/true);
  } else {
    labels = batch.labels;  // an empty share: no forward, the group sums still run
  }
  StepHooks hooks;
  hooks.before_reduce = [&](std::vector<double>& step_sums) {
    fault_point("allreduce", group_.group_rank());  // the group's gradient buckets are in flight
    if (pause_points_enabled() && group_.is_group_root())
      pause_point("train-" + std::to_string(seed_) + "-" + std::to_string(epoch) + "-" +
                  std::to_string(step));
    step_sums[kStopSignal] = stop_signal_received() ? 1 : 0;
    step_sums[kCheckpointDue] = group_.is_group_root() && checkpoint_timer_.due() ? 1 : 0;
  };
  hooks.after_reduce = [&](const std::vector<double>& step_sums) {
    check_step_finite(epoch, step, step_sums[kLoss]);
  };
  sgd_step(*model_, *state_->sgd, state_->reducer.get(), images, labels, batch.global_size, lr, sums, hooks);
}

void SeedTrainer::finish_epoch(int64_t epoch, const EpochTotals& totals) {
  const double nan = std::nan("");
  const double epoch_start = wall_seconds() - totals.train_s;
  const double lr = schedule_.lr_at(static_cast<int>(epoch));
  check_parameters_finite(epoch);
  const EvalResult val = evaluate_set(*val_set_);
  const bool last = epoch == options_.spec.epochs;
  const EvalResult test = last ? evaluate_set(*test_set_) : EvalResult{nan, nan, nan, 0};
  const double snapshot_start = wall_seconds();
  const LayerStatsSet stats = compute_stats(*model_, layers_, state_->init_params);
  const double epoch_s = wall_seconds() - epoch_start;
  const double num_train = static_cast<double>(train_set_->size());
  const double images_here =
      std::min(num_train, static_cast<double>(totals.steps_here * options_.spec.batch_size));
  const store::EpochProgress& sums = totals.progress;
  write_snapshot(epoch,
                 {{"train_loss", sums.loss_sum / num_train},
                  {"train_accuracy", sums.correct / num_train},
                  {"train_top5_accuracy", sums.correct_top5 / num_train},
                  {"val_loss", val.loss},
                  {"val_accuracy", val.accuracy},
                  {"val_top5_accuracy", val.top5_accuracy},
                  {"test_loss", test.loss},
                  {"test_accuracy", test.accuracy},
                  {"test_top5_accuracy", test.top5_accuracy},
                  {"lr", lr},
                  {"epoch_seconds", epoch_s},
                  {"images_per_second", images_here / totals.train_s},
                  {"data_wait_fraction", totals.data_wait_s / totals.train_s}},
                 stats);
  group_.group_barrier();  // the epoch file is in place before any rank moves on
  const double snapshot_s = wall_seconds() - snapshot_start;
  if (context_.epochs_done_in_job) ++*context_.epochs_done_in_job;
  log_epoch(epoch, totals, val, test, lr, stats, epoch_s, snapshot_s);
}

void SeedTrainer::check_step_finite(int64_t epoch, int64_t step, double loss) {
  if (std::isfinite(loss)) return;
  std::string culprit = "every parameter is still finite";
  for (const auto& [name, param] : models::named_parameters(*model_))
    if (!all_finite(param)) {
      culprit = "first non-finite layer: " + name;
      break;
    }
  if (culprit.rfind("every", 0) == 0)
    for (const auto& item : model_->named_parameters())
      if (item.value().grad().defined() && !all_finite(item.value().grad())) {
        culprit = "first non-finite gradient: " + item.key();
        break;
      }
  HPA_FAIL("seed " << seed_ << " epoch " << epoch << " step " << step << ": the training loss is " << loss
                   << " (" << culprit << "); training diverged, epochs before " << epoch
                   << " are kept (lower --lr?)");
}

void SeedTrainer::check_parameters_finite(int64_t epoch) {
  for (const auto& [name, param] : models::named_parameters(*model_))
    HPA_REQUIRE(all_finite(param), "seed " << seed_ << " epoch " << epoch << " step " << num_batches() - 1
                                           << ": layer " << name
                                           << " has non-finite weights after the update; training diverged, "
                                              "epochs before "
                                           << epoch << " are kept (lower --lr?)");
}

// Every rank of the group writes its share of the epoch file; the group root renames it into place.
void SeedTrainer::write_snapshot(int64_t epoch, std::map<std::string, double> metrics,
                                 const LayerStatsSet& stats) {
  store::EpochSnapshot snapshot;
  snapshot.seed = seed_;
  snapshot.epoch = epoch;
  if (snapshot_epochs_.count(epoch)) {  // linear layers of --snapshot-params conv: at 0 and the end only
    const bool everything = options_.spec.snapshot_params == experiment::SnapshotParams::all || epoch == 0 ||
                            epoch == options_.spec.epochs;
    for (const auto& [name, tensor] : models::named_parameters(*model_))
      if (everything || conv_params_.count(name)) snapshot.params.emplace_back(name, tensor);
  }
  snapshot.metrics = std::move(metrics);
  snapshot.layer_names = stats.names;
  snapshot.cosines = stats.cosines;
  snapshot.neg_fraction = stats.neg_fraction;
  snapshot.dist_l2 = stats.dist_l2;
  snapshot.dist_linf = stats.dist_linf;
  store::write_epoch_file(options_.run.out, snapshot, file_comm_);
}

// The group root writes the checkpoint (every rank holds the same state); the timer restarts.
void SeedTrainer::write_checkpoint(int64_t completed_epoch, const store::EpochProgress& progress) {
  checkpoint_timer_.restart();
  if (!group_.is_group_root()) return;
  store::Checkpoint state{seed_, completed_epoch, progress, models::named_parameters(*model_), state_->sgd->momenta()};
  store::write_checkpoint(options_.run.out, state);
}

std::vector<double> SeedTrainer::group_sums(std::vector<double> flags) const {
  at::Tensor sums = at::tensor(flags, at::TensorOptions().dtype(at::kDouble));
  group_.group_allreduce_sum(sums);
  for (size_t i = 0; i < flags.size(); ++i) flags[i] = sums[static_cast<int64_t>(i)].item<double>();
  return flags;
}

EvalResult SeedTrainer::evaluate_set(const data::SampleSet& set) {  // all ranks of the group
  const double nan = std::nan("");
  return set.size() ? evaluate(*model_, set, group_, options_.run.eval_batch_size, context_.loader)
                    : EvalResult{nan, nan, nan, 0};
}

void SeedTrainer::mark_step_logs(const std::string& where) const {
  for (std::ofstream* log : {context_.loss_log, context_.sample_log})
    if (log) *log << "# resumed: seed " << seed_ << " " << where << std::endl;
}

void SeedTrainer::log_progress(int64_t epoch, int64_t step, const EpochTotals& totals, double start,
                               double wait_s) {
  const int64_t num_train = train_set_->size();
  const double now = wall_seconds();
  const double done_here =
      static_cast<double>(std::min(num_train, totals.steps_here * options_.spec.batch_size));
  const double rate = done_here / (now - start);
  const double left =
      static_cast<double>(num_train - std::min(num_train, (step + 1) * options_.spec.batch_size));
  *context_.log << "seed " << seed_ << " epoch " << epoch << ": batch " << step + 1 << "/" << num_batches()
                << ", " << std::fixed << std::setprecision(0) << rate << " img/s, data wait "
                << std::setprecision(1) << 100 * wait_s / (now - start) << "%, epoch ETA "
                << format_duration(left / rate) << std::endl;
}

void SeedTrainer::log_epoch(int64_t epoch, const EpochTotals& totals, const EvalResult& val,
                            const EvalResult& test, double lr, const LayerStatsSet& stats, double epoch_s,
                            double snapshot_s) {
  if (!context_.log) return;
  const double num_train = static_cast<double>(train_set_->size());
  const store::EpochProgress& sums = totals.progress;
  const double elapsed = wall_seconds() - context_.job_start_s;
  const int64_t done = context_.epochs_done_in_job ? *context_.epochs_done_in_job : 1;
  const int64_t left = context_.epochs_left_in_job ? *context_.epochs_left_in_job - done : 0;
  const double eta = elapsed / static_cast<double>(done) * static_cast<double>(left);
  const double images_here =
      std::min(num_train, static_cast<double>(totals.steps_here * options_.spec.batch_size));
  std::ostringstream line;
  line << "seed " << seed_ << " epoch " << epoch << "/" << options_.spec.epochs << std::fixed
       << std::setprecision(4) << " | train loss " << sums.loss_sum / num_train << " acc "
       << std::setprecision(2) << 100 * sums.correct / num_train << "% | val loss " << std::setprecision(4)
       << val.loss << " acc " << std::setprecision(2) << 100 * val.accuracy << "% top5 "
       << 100 * val.top5_accuracy << "%";
  if (epoch == options_.spec.epochs)
    line << " | test acc " << 100 * test.accuracy << "% top5 " << 100 * test.top5_accuracy << "%";
  line << " | lr " << std::setprecision(5) << lr << " | " << std::setprecision(0) << images_here / totals.train_s
       << " img/s, data wait " << std::setprecision(1) << 100 * totals.data_wait_s / totals.train_s << "% | "
       << format_duration(elapsed) << " elapsed, ETA " << format_duration(eta);
  if (group_.group_size() > 1) {
    const double exposed_per_step_s =
        totals.exposed_s / static_cast<double>(std::max<int64_t>(1, totals.steps_here));
    line << " | allreduce exposed " << std::setprecision(2) << 1e3 * exposed_per_step_s << " ms/step ("
         << std::setprecision(1) << 100 * totals.exposed_s / totals.train_s << "%)";
  }
  line << " | snapshot " << std::setprecision(3) << snapshot_s << "s (" << std::setprecision(1)
       << 100 * snapshot_s / epoch_s << "%) | " << n_l_text(stats);
  *context_.log << line.str() << std::endl;
}

std::string SeedTrainer::n_l_text(const LayerStatsSet& stats) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << "n_l";
  for (double value : stats.neg_fraction) out << " " << value;
  return out.str();
}

}  // namespace

bool train_seed(const TrainContext& context, int64_t seed) { return SeedTrainer(context, seed).run(); }

}  // namespace hpa::train
