// The training loop of one seed; see trainer.hpp.
#include "train/trainer.hpp"

#include "comm/gradient_reducer.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "data/batches.hpp"
#include "data/dataset.hpp"
#include "data/keyed_random.hpp"
#include "models/parameters.hpp"
#include "stats/projection.hpp"
#include "train/evaluate.hpp"
#include "train/schedule.hpp"
#include "train/sgd.hpp"

#include <ATen/Functions.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/conv.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
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

store::NamedTensors cloned_parameters(models::ConvNetImpl& model) {
  store::NamedTensors result;
  for (const auto& [name, tensor] : models::named_parameters(model))
    result.emplace_back(name, tensor.clone());
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
    const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&options.padding());
    layers.push_back({static_cast<int64_t>(layers.size()) + 1, item.key(), options.out_channels(),
                      options.in_channels(), kernel, (*options.stride())[0], padding ? (**padding)[0] : 0});
  }
  return layers;
}

namespace {

// One epoch's training totals over the whole group.
struct EpochTotals {
  double loss_sum = 0, correct = 0, correct_top5 = 0;
  int64_t steps = 0;
  double train_s = 0, data_wait_s = 0, exposed_s = 0;
};

// Every rank of the group: one epoch of SGD over the group's shares of each global batch.
EpochTotals train_epoch(const TrainContext& context, models::ConvNetImpl& model,
                        const data::SampleSet& train_set, comm::GradientReducer& reducer, Sgd& sgd,
                        int64_t seed, int64_t epoch, double lr) {
  const TrainOptions& options = context.options;
  const comm::Group& group = context.group;
  const uint64_t useed = static_cast<uint64_t>(seed);
  const int64_t num_train = train_set.size(), batch_size = options.batch_size;
  const int64_t num_batches = (num_train + batch_size - 1) / batch_size;
  const double start = wall_seconds();
  model.train();
  // Dropout draws from torch's generator: seeded per (seed, epoch, rank) so a resumed epoch
  // repeats exactly what the interrupted one would have done.
  torch::manual_seed(data::keyed_random(useed, static_cast<uint64_t>(epoch),
                                        static_cast<uint64_t>(group.group_rank()),
                                        data::RandomStream::dropout));
  const std::vector<int64_t> order = data::keyed_permutation(num_train, useed, static_cast<uint64_t>(epoch),
                                                             data::RandomStream::epoch_order);
  data::BatchLoader loader(
      train_set, num_batches,
      [&](int64_t b) {
        const int64_t begin = b * batch_size, global_count = std::min(batch_size, num_train - begin);
        const auto [first, count] = data::rank_share(global_count, group.group_rank(), group.group_size());
        return data::BatchPlan{{order.begin() + begin + first, order.begin() + begin + first + count},
                               global_count};
      },
      static_cast<uint64_t>(epoch), context.loader);
  EpochTotals totals;
  const double exposed_before = reducer.exposed_seconds();
  double last_progress = start;
  data::Batch batch;
  for (int64_t step = 0; loader.next(batch); ++step) {
    sgd.zero_grad();
    reducer.begin_step();
    std::vector<double> sums = {0, 0, 0};  // loss, top-1 and top-5 correct of this rank's share
    if (batch.labels.numel() > 0) {
      const at::Tensor images = batch.images.to(context.device, /*non_blocking=*/true);
      const at::Tensor labels = batch.labels.to(context.device, /*non_blocking=*/true);
      const at::Tensor logits = model.forward(images);
      const at::Tensor summed = torch::nn::functional::cross_entropy(
          logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
      // Sum over this rank's share / global batch size: the group's summed gradient is the
      // gradient of the global batch mean, whatever the split.
      (summed / static_cast<double>(batch.global_size)).backward();
      const TopCounts counts = count_top_correct(logits, labels);
      sums = {summed.item<double>(), counts.top1, counts.top5};
    }
    reducer.finish_step(sums);  // all ranks of the group
    sgd.step(lr);
    ++totals.steps;
    totals.loss_sum += sums[0];
    totals.correct += sums[1];
    totals.correct_top5 += sums[2];
    if (context.loss_log)
      *context.loss_log << seed << " " << epoch << " " << step << " " << std::setprecision(9)
                        << sums[0] / static_cast<double>(batch.global_size) << "\n";
    if (context.log && wall_seconds() - last_progress > kProgressIntervalS) {
      last_progress = wall_seconds();
      const double done = static_cast<double>(std::min(num_train, (step + 1) * batch_size));
      const double rate = done / (last_progress - start);
      *context.log << "seed " << seed << " epoch " << epoch << ": batch " << step + 1 << "/" << num_batches
                   << ", " << std::fixed << std::setprecision(0) << rate << " img/s, data wait "
                   << std::setprecision(1) << 100 * loader.wait_seconds() / (last_progress - start)
                   << "%, epoch ETA " << format_duration((static_cast<double>(num_train) - done) / rate)
                   << std::endl;
    }
  }
  totals.train_s = wall_seconds() - start;
  totals.data_wait_s = loader.wait_seconds();
  totals.exposed_s = reducer.exposed_seconds() - exposed_before;
  return totals;
}

}  // namespace

void train_seed(const TrainContext& context, int64_t seed) {
  const TrainOptions& options = context.options;
  const comm::Group& group = context.group;
  const uint64_t useed = static_cast<uint64_t>(seed);
  const std::string& run_dir = options.out;

  // Data: the validation split and normalization depend on the seed only; samples are chosen by
  // index, the dataset itself is never copied.
  const data::Dataset& dataset = context.dataset;
  const data::Split split = data::split_validation(dataset.labels(data::Part::train), options.val_fraction,
                                                   useed, options.stratified, dataset.num_classes());
  const data::Normalization normalization =
      dataset.normalization(resolve_normalization(options.normalize, dataset.name()), split.train);
  const auto train_set =
      dataset.samples(data::Part::train, split.train, normalization, options.augment, useed);
  const auto val_set = dataset.samples(data::Part::train, split.validation, normalization, false, useed);
  const auto test_set = dataset.samples(data::Part::test, data::all_indices(dataset.size(data::Part::test)),
                                        normalization, false, useed);

  // Model: rank 0's init is everybody's (all ranks of the group).
  models::ConvNet model = models::make_model(context.spec, context.init, useed);
  {
    torch::NoGradGuard no_grad;
    for (auto& param : model->parameters()) group.group_broadcast(param, /*root=*/0);
  }
  model->to(context.device);
  const std::vector<store::LayerRecord> layers = layer_records(*model);
  std::vector<std::pair<std::string, at::Tensor>> trainable;
  for (const auto& item : model->named_parameters()) trainable.emplace_back(item.key(), item.value());
  comm::ReducerOptions reducer_options;
  reducer_options.bucket_bytes = static_cast<int64_t>(options.bucket_mb * (1 << 20));
  reducer_options.overlap = options.overlap;
  comm::GradientReducer reducer(group, model->parameters(), reducer_options);
  Sgd sgd(trainable, options.momentum, options.weight_decay);
  Schedule schedule;
  schedule.kind = parse_schedule(options.lr_schedule);
  schedule.base_lr = options.lr;
  schedule.step_epochs = static_cast<int>(options.lr_step);
  schedule.decay = options.lr_decay;

  store::NamedTensors init_params;
  int64_t first_epoch = 1;
  store::Checkpoint checkpoint;
  if (options.resume && store::read_checkpoint(run_dir, seed, checkpoint)) {
    const std::string source = store::checkpoint_path(run_dir, seed);
    models::load_parameters(*model, checkpoint.params, source, "the run's " + options.arch);
    sgd.load_momenta(checkpoint.momenta, source);
    init_params = store::read_epoch_params(store::epoch_file_path(run_dir, seed, 0));
    first_epoch = checkpoint.epoch + 1;
    if (context.epochs_left_in_job) *context.epochs_left_in_job -= checkpoint.epoch;
    if (context.log)
      *context.log << "seed " << seed << ": resuming after epoch " << checkpoint.epoch << " from " << source
                   << "\n";
  } else {
    init_params = cloned_parameters(*model);
  }

  // Every rank writes its share of the epoch file through MPI-IO (all hold the same weights); the
  // group root renames it into place and writes the checkpoint.
  store::FileComm file_comm;
  if (group.group_size() > 1) file_comm = {group.native_handle(), group.group_rank(), group.group_size()};
  const auto write_epoch = [&](int64_t epoch, std::map<std::string, double> metrics,
                               const LayerStatsSet& stats) {
    store::EpochSnapshot snapshot;
    snapshot.seed = seed;
    snapshot.epoch = epoch;
    snapshot.params = models::named_parameters(*model);
    snapshot.metrics = std::move(metrics);
    snapshot.layer_names = stats.names;
    snapshot.cosines = stats.cosines;
    snapshot.neg_fraction = stats.neg_fraction;
    snapshot.dist_l2 = stats.dist_l2;
    snapshot.dist_linf = stats.dist_linf;
    store::write_epoch_file(run_dir, snapshot, file_comm);
    if (!group.is_group_root()) return;
    store::Checkpoint state{seed, epoch, snapshot.params, sgd.momenta()};
    store::write_checkpoint(run_dir, state);
  };
  const auto n_l_text = [](const LayerStatsSet& stats) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(2) << "n_l";
    for (double value : stats.neg_fraction) out << " " << value;
    return out.str();
  };
  const double nan = std::nan("");
  const auto evaluate_set = [&](const data::SampleSet& set) {  // all ranks of the group
    return set.size() ? evaluate(*model, set, group, options.eval_batch_size, context.loader)
                      : EvalResult{nan, nan, nan, 0};
  };

  if (first_epoch == 1) {  // epoch 0: the init, before any step
    const EvalResult val = evaluate_set(*val_set);
    const LayerStatsSet stats = compute_stats(*model, layers, init_params);
    std::map<std::string, double> metrics;
    for (const std::string& name : metric_names()) metrics[name] = nan;
    metrics["val_loss"] = val.loss;
    metrics["val_accuracy"] = val.accuracy;
    metrics["val_top5_accuracy"] = val.top5_accuracy;
    write_epoch(0, metrics, stats);
    if (context.log)
      *context.log << "seed " << seed << " epoch 0/" << options.epochs << " (init) | val loss " << std::fixed
                   << std::setprecision(4) << val.loss << " acc " << std::setprecision(2)
                   << 100 * val.accuracy << "% | " << n_l_text(stats) << std::endl;
  }

  const double num_train = static_cast<double>(train_set->size());
  for (int64_t epoch = first_epoch; epoch <= options.epochs; ++epoch) {
    const double epoch_start = wall_seconds();
    const double lr = schedule.lr_at(static_cast<int>(epoch));
    const EpochTotals totals = train_epoch(context, *model, *train_set, reducer, sgd, seed, epoch, lr);
    const EvalResult val = evaluate_set(*val_set);
    const bool last = epoch == options.epochs;
    const EvalResult test = last ? evaluate_set(*test_set) : EvalResult{nan, nan, nan, 0};
    const double snapshot_start = wall_seconds();
    const LayerStatsSet stats = compute_stats(*model, layers, init_params);
    const double epoch_s = wall_seconds() - epoch_start;
    const double images_per_s = num_train / totals.train_s;
    const double data_wait_fraction = totals.data_wait_s / totals.train_s;
    write_epoch(epoch,
                {{"train_loss", totals.loss_sum / num_train},
                 {"train_accuracy", totals.correct / num_train},
                 {"train_top5_accuracy", totals.correct_top5 / num_train},
                 {"val_loss", val.loss},
                 {"val_accuracy", val.accuracy},
                 {"val_top5_accuracy", val.top5_accuracy},
                 {"test_loss", test.loss},
                 {"test_accuracy", test.accuracy},
                 {"test_top5_accuracy", test.top5_accuracy},
                 {"lr", lr},
                 {"epoch_seconds", epoch_s},
                 {"images_per_second", images_per_s},
                 {"data_wait_fraction", data_wait_fraction}},
                stats);
    group.group_barrier();  // the epoch file is in place before any rank moves on
    const double snapshot_s = wall_seconds() - snapshot_start;
    if (context.epochs_done_in_job) ++*context.epochs_done_in_job;
    if (context.log) {
      const double elapsed = wall_seconds() - context.job_start_s;
      const int64_t done = context.epochs_done_in_job ? *context.epochs_done_in_job : 1;
      const int64_t left = context.epochs_left_in_job ? *context.epochs_left_in_job - done : 0;
      const double eta = elapsed / static_cast<double>(done) * static_cast<double>(left);
      std::ostringstream line;
      line << "seed " << seed << " epoch " << epoch << "/" << options.epochs << std::fixed
           << std::setprecision(4) << " | train loss " << totals.loss_sum / num_train << " acc "
           << std::setprecision(2) << 100 * totals.correct / num_train << "% | val loss "
           << std::setprecision(4) << val.loss << " acc " << std::setprecision(2) << 100 * val.accuracy
           << "% top5 " << 100 * val.top5_accuracy << "%";
      if (last) line << " | test acc " << 100 * test.accuracy << "% top5 " << 100 * test.top5_accuracy << "%";
      line << " | lr " << std::setprecision(5) << lr << " | " << std::setprecision(0) << images_per_s
           << " img/s, data wait " << std::setprecision(1) << 100 * data_wait_fraction << "% | "
           << format_duration(elapsed) << " elapsed, ETA " << format_duration(eta);
      if (group.group_size() > 1) {
        const double exposed_per_step_s =
            totals.exposed_s / static_cast<double>(std::max<int64_t>(1, totals.steps));
        line << " | allreduce exposed " << std::setprecision(2) << 1e3 * exposed_per_step_s << " ms/step ("
             << std::setprecision(1) << 100 * totals.exposed_s / totals.train_s << "%)";
      }
      line << " | snapshot " << std::setprecision(3) << snapshot_s << "s (" << std::setprecision(1)
           << 100 * snapshot_s / (wall_seconds() - epoch_start) << "%) | " << n_l_text(stats);
      *context.log << line.str() << std::endl;
    }
  }
}

}  // namespace hpa::train
