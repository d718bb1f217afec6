// The training loop of one seed; see trainer.hpp.
#include "train/trainer.hpp"

#include "comm/gradient_reducer.hpp"
#include "common/error.hpp"
#include "data/batches.hpp"
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

std::string format_duration(double seconds) {
  std::ostringstream out;
  const int64_t total = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  if (total >= 3600)
    out << total / 3600 << "h" << std::setw(2) << std::setfill('0') << (total % 3600) / 60 << "m";
  else if (total >= 60)
    out << total / 60 << "m" << std::setw(2) << std::setfill('0') << total % 60 << "s";
  else
    out << total << "s";
  return out.str();
}

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

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<std::string> metric_names() {
  return {"train_loss", "train_accuracy", "val_loss",         "val_accuracy", "test_loss", "test_accuracy",
          "lr",         "epoch_seconds",  "images_per_second"};
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

void train_seed(const TrainContext& context, int64_t seed) {
  const TrainOptions& options = context.options;
  const comm::Group& group = context.group;
  const uint64_t useed = static_cast<uint64_t>(seed);
  const std::string& run_dir = options.out;

  // Data: the validation split and normalization depend on the seed only.
  const data::Split split = data::split_validation(context.dataset.train, options.val_fraction, useed,
                                                   options.stratified, context.dataset.num_classes);
  const data::Normalization normalization =
      data::Normalization::make(data::parse_normalization(options.normalize), split.train);
  data::Augmentation augmentation;
  augmentation.enabled = options.augment;
  const data::BatchAssembler train_set(split.train, normalization, augmentation, useed);
  const data::BatchAssembler val_set(split.validation, normalization, {}, useed);
  const data::BatchAssembler test_set(context.dataset.test, normalization, {}, useed);

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

  // Every rank of the group writes its share of the epoch file through MPI-IO (all hold the same
  // weights); the group root renames it into place and writes the checkpoint.
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

  if (first_epoch == 1) {  // epoch 0: the init, before any step
    const EvalResult val = split.validation.size() ? evaluate(*model, val_set, group, options.eval_batch_size)
                                                   : EvalResult{nan, nan, 0};
    const LayerStatsSet stats = compute_stats(*model, layers, init_params);
    write_epoch(0,
                {{"train_loss", nan},
                 {"train_accuracy", nan},
                 {"val_loss", val.loss},
                 {"val_accuracy", val.accuracy},
                 {"test_loss", nan},
                 {"test_accuracy", nan},
                 {"lr", nan},
                 {"epoch_seconds", nan},
                 {"images_per_second", nan}},
                stats);
    if (context.log)
      *context.log << "seed " << seed << " epoch 0/" << options.epochs << " (init) | val loss " << std::fixed
                   << std::setprecision(4) << val.loss << " acc " << std::setprecision(2)
                   << 100 * val.accuracy << "% | " << n_l_text(stats) << std::endl;
  }

  const int64_t num_train = split.train.size();
  const int64_t batch_size = options.batch_size;
  const int64_t num_batches = (num_train + batch_size - 1) / batch_size;
  for (int64_t epoch = first_epoch; epoch <= options.epochs; ++epoch) {
    const double epoch_start = wall_seconds();
    const double lr = schedule.lr_at(static_cast<int>(epoch));
    model->train();
    // Dropout draws from torch's generator: seeded per (seed, epoch, rank) so a resumed epoch
    // repeats exactly what the interrupted one would have done.
    torch::manual_seed(data::keyed_random(useed, static_cast<uint64_t>(epoch),
                                          static_cast<uint64_t>(group.group_rank()),
                                          data::RandomStream::dropout));
    const std::vector<int64_t> order = data::keyed_permutation(num_train, useed, static_cast<uint64_t>(epoch),
                                                               data::RandomStream::epoch_order);
    data::Prefetcher prefetcher(
        [&](int64_t b) {
          const int64_t begin = b * batch_size, global_count = std::min(batch_size, num_train - begin);
          const auto [first, count] = data::rank_share(global_count, group.group_rank(), group.group_size());
          std::vector<int64_t> indices(order.begin() + begin + first, order.begin() + begin + first + count);
          data::Batch batch = train_set.assemble(indices, static_cast<uint64_t>(epoch));
          batch.global_size = global_count;
          return batch;
        },
        num_batches);
    double epoch_loss_sum = 0, epoch_correct = 0, last_progress = epoch_start;
    data::Batch batch;
    const double exposed_before = reducer.exposed_seconds();
    int64_t num_steps = 0;
    for (int64_t step = 0; prefetcher.next(batch); ++step) {
      sgd.zero_grad();
      reducer.begin_step();
      double loss_sum = 0, correct = 0;
      if (batch.labels.numel() > 0) {
        batch.images = batch.images.to(context.device, /*non_blocking=*/true);
        batch.labels = batch.labels.to(context.device, /*non_blocking=*/true);
        const at::Tensor logits = model->forward(batch.images);
        const at::Tensor summed = torch::nn::functional::cross_entropy(
            logits, batch.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
        // Sum over this rank's share / global batch size: the group's summed gradient is the
        // gradient of the global batch mean, whatever the split.
        (summed / static_cast<double>(batch.global_size)).backward();
        loss_sum = summed.item<double>();
        correct = logits.argmax(1).eq(batch.labels).sum().item<double>();
      }
      std::vector<double> sums = {loss_sum, correct};
      reducer.finish_step(sums);  // all ranks of the group
      loss_sum = sums[0];
      correct = sums[1];
      sgd.step(lr);
      ++num_steps;
      epoch_loss_sum += loss_sum;
      epoch_correct += correct;
      if (context.loss_log)
        *context.loss_log << seed << " " << epoch << " " << step << " " << std::setprecision(9)
                          << loss_sum / static_cast<double>(batch.global_size) << "\n";
      if (context.log && wall_seconds() - last_progress > kProgressIntervalS) {
        last_progress = wall_seconds();
        const double rate = static_cast<double>((step + 1) * batch_size) / (last_progress - epoch_start);
        *context.log << "seed " << seed << " epoch " << epoch << ": batch " << step + 1 << "/" << num_batches
                     << ", " << std::fixed << std::setprecision(0) << rate << " img/s, epoch ETA "
                     << format_duration(static_cast<double>(num_train - (step + 1) * batch_size) / rate)
                     << std::endl;
      }
    }
    const double train_s = wall_seconds() - epoch_start;
    const double exposed_per_step_s =
        (reducer.exposed_seconds() - exposed_before) / std::max<int64_t>(1, num_steps);
    const EvalResult val = split.validation.size() ? evaluate(*model, val_set, group, options.eval_batch_size)
                                                   : EvalResult{nan, nan, 0};
    const bool last = epoch == options.epochs;
    const EvalResult test =
        last ? evaluate(*model, test_set, group, options.eval_batch_size) : EvalResult{nan, nan, 0};
    const double snapshot_start = wall_seconds();
    const LayerStatsSet stats = compute_stats(*model, layers, init_params);
    const double epoch_s = wall_seconds() - epoch_start;
    const double images_per_s = static_cast<double>(num_train) / train_s;
    write_epoch(epoch,
                {{"train_loss", epoch_loss_sum / num_train},
                 {"train_accuracy", epoch_correct / num_train},
                 {"val_loss", val.loss},
                 {"val_accuracy", val.accuracy},
                 {"test_loss", test.loss},
                 {"test_accuracy", test.accuracy},
                 {"lr", lr},
                 {"epoch_seconds", epoch_s},
                 {"images_per_second", images_per_s}},
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
           << std::setprecision(4) << " | train loss " << epoch_loss_sum / num_train << " acc "
           << std::setprecision(2) << 100 * epoch_correct / num_train << "% | val loss "
           << std::setprecision(4) << val.loss << " acc " << std::setprecision(2) << 100 * val.accuracy
           << "%";
      if (last) line << " | test acc " << 100 * test.accuracy << "%";
      line << " | lr " << std::setprecision(5) << lr << " | " << std::setprecision(0) << images_per_s
           << " img/s | " << format_duration(elapsed) << " elapsed, ETA " << format_duration(eta);
      if (group.group_size() > 1)
        line << " | allreduce exposed " << std::setprecision(2) << 1e3 * exposed_per_step_s << " ms/step ("
             << std::setprecision(1) << 100 * exposed_per_step_s * num_steps / train_s << "%)";
      line << " | snapshot " << std::setprecision(3) << snapshot_s << "s (" << std::setprecision(1)
           << 100 * snapshot_s / (wall_seconds() - epoch_start) << "%) | " << n_l_text(stats);
      *context.log << line.str() << std::endl;
    }
  }
}

}  // namespace hpa::train
