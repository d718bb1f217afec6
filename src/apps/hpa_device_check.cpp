// hpa-device-check: the checks and measurements of hpa's GPU path, one section at a time, each
// printing `check: KEY = VALUE` lines that tests/device/device_check.sh gathers into its summary.
// On a machine without a GPU, `--device cpu` runs the same code (CI does, with small sizes).
//   nccl         the gradient reducer's collectives in a group of one rank (NCCL on CUDA)
//   throughput   VGG19 training images/s on ImageNet-shaped batches, hpa's step (forward, loss,
//                backward, reducer, SGD) as hpa-train runs it, for each --configs (fp32, bf16,
//                channels-last) and --batch; also the training FLOPs per image
//   snapshot     the epoch file of VGG19 (device-to-host copy and HDF5 write), timed
//   grid         re-initialization grid cells/s, fused evaluation, on --device and on the CPU, fp32
//                and bf16, with the bf16 counts' largest difference from fp32
// and compares what hpa-train and hpa-reinit-grid wrote (the device check's training, resume and
// grid stages run the real programs): --compare train|precision|params|grids RUN...
#include "comm/communicator.hpp"
#include "comm/gradient_reducer.hpp"
#include "comm/reduction.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "data/memory_dataset.hpp"
#include "experiment/spec.hpp"
#include "models/architectures.hpp"
#include "models/numerics.hpp"
#include "models/parameters.hpp"
#include "reinit/grid.hpp"
#include "store/reinit_file.hpp"
#include "store/run_directory.hpp"
#include "train/sgd.hpp"
#include "train/step.hpp"

#include <ATen/Context.h>
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <torch/cuda.h>
#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

namespace po = boost::program_options;
using hpa::models::Arch;

struct CheckOptions {
  std::vector<std::string> sections;
  std::string device = "cpu";
  std::string dir = ".";
  std::vector<std::string> compare;
  double tolerance = 0, tolerance_fraction = 0, margin = 10;
  std::vector<int64_t> batches = {64};
  std::vector<std::string> configs = {"fp32"};
  int64_t image = 224, timed_steps = 10, grid_images = 1000, grid_variants = 8;
  bool tf32 = true;
  int threads = 0;
};

c10::Device device_of(const std::string& name) {
  if (name == "cpu") return c10::kCPU;
  HPA_REQUIRE(name == "cuda", "--device: cpu or cuda, not '" << name << "'");
  HPA_REQUIRE(torch::cuda::is_available(), "--device cuda: this LibTorch has no CUDA or sees no GPU");
  return c10::Device(c10::kCUDA, 0);
}

void sync(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

void print(const std::string& key, double value) { std::cout << "check: " << key << " = " << value << std::endl; }
void print(const std::string& key, const std::string& value) {
  std::cout << "check: " << key << " = " << value << std::endl;
}

double max_relative(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.detach().to(at::kCPU, at::kDouble), y = b.detach().to(at::kCPU, at::kDouble);
  return (x - y).abs().max().item<double>() / std::max(1e-30, y.abs().max().item<double>());
}

// One step of hpa-train's own SGD step (train/step.hpp) on the whole batch, lr 0.01; returns the
// batch's mean loss.
double sgd_step(hpa::models::ConvNetImpl& model, hpa::train::Sgd& sgd, const at::Tensor& images,
                const at::Tensor& labels, hpa::comm::GradientReducer* reducer) {
  std::vector<double> sums(hpa::train::kNumModelSums, 0.0);
  const int64_t batch = labels.size(0);
  hpa::train::sgd_step(model, sgd, reducer, images, labels, batch, 0.01, sums);
  return sums[hpa::train::kLoss] / static_cast<double>(batch);
}

hpa::models::ConvNet make(Arch arch, int64_t classes, double width, double dropout, const c10::Device& device) {
  hpa::models::ModelSpec spec;
  spec.arch = arch;
  spec.num_classes = classes;
  spec.width = width;
  spec.dropout = dropout;
  hpa::models::ConvNet model = hpa::models::make_model(spec, hpa::models::InitScheme::torchvision, 1);
  model->to(device);
  return model;
}

void nccl(const c10::Device& device, const hpa::comm::World& world) {
  hpa::comm::Group group = world.split_groups(world.world_size());
  hpa::models::ConvNet model = make(Arch::vgg11, 10, 0.25, 0.0, device);
  hpa::train::Sgd sgd(hpa::models::trainable_parameters(*model), 0.9, 5e-4);
  hpa::comm::ReducerOptions options;
  options.reduce_single_rank = true;
  options.bucket_bytes = 1 << 20;  // several buckets
  hpa::comm::GradientReducer reducer(group, model->parameters(), options);
  at::manual_seed(3);
  const at::Tensor images = at::randn({8, 3, 32, 32}).to(device);
  const at::Tensor labels = at::randint(10, {8}, at::TensorOptions().dtype(at::kLong)).to(device);
  // The same step without the reducer, from the same weights: a sum over one rank changes nothing.
  hpa::models::ConvNet twin = make(Arch::vgg11, 10, 0.25, 0.0, device);
  hpa::train::Sgd twin_sgd(hpa::models::trainable_parameters(*twin), 0.9, 5e-4);
  double loss = 0, twin_loss = 0;
  for (int step = 0; step < 3; ++step) {
    loss = sgd_step(*model, sgd, images, labels, &reducer);
    twin_loss = sgd_step(*twin, twin_sgd, images, labels, nullptr);
  }
  sync(device);
  double diff = 0;
  const auto a = hpa::models::named_parameters(*model), b = hpa::models::named_parameters(*twin);
  for (size_t k = 0; k < a.size(); ++k) diff = std::max(diff, max_relative(a[k].second, b[k].second));
  print("nccl.backend", device.is_cuda() ? (hpa::comm::nccl_built() ? "nccl" : "none") : "mpi");
  print("nccl.buckets", static_cast<double>(reducer.num_buckets()));
  print("nccl.launches", static_cast<double>(reducer.launches()));
  print("nccl.loss_diff", std::abs(loss - twin_loss));
  print("nccl.param_max_rel_diff", diff);
  print("nccl.ok", reducer.launches() == 3 * reducer.num_buckets() && diff <= 1e-5 ? "yes" : "NO");
}

// A throughput configuration's name: fp32, bf16, fp32-cl or bf16-cl (cl: channels-last).
hpa::models::Numerics numerics_of(const std::string& config) {
  hpa::models::Numerics numerics;
  const bool cl = config.size() > 3 && config.compare(config.size() - 3, 3, "-cl") == 0;
  numerics.precision = hpa::experiment::parse_precision(cl ? config.substr(0, config.size() - 3) : config,
                                                        "--configs (without its -cl)");
  if (cl) numerics.memory_format = hpa::models::MemoryFormat::channels_last;
  return numerics;
}

// hpa's training step on VGG19 for one configuration and batch size: median images/s.
double throughput_of(const CheckOptions& o, const c10::Device& device, const hpa::comm::World& world,
                     const std::string& config, int64_t batch) {
  hpa::comm::Group group = world.split_groups(world.world_size());
  hpa::models::ConvNet model = make(Arch::vgg19, 1000, 1.0, 0.5, device);
  model->train();
  model->set_numerics(numerics_of(config));  // before the buckets and momenta, as hpa-train
  hpa::train::Sgd sgd(hpa::models::trainable_parameters(*model), 0.9, 5e-4);
  hpa::comm::GradientReducer reducer(group, model->parameters(), hpa::comm::ReducerOptions{});
  at::manual_seed(5);
  const at::Tensor images = at::randn({batch, 3, o.image, o.image}).to(device);
  const at::Tensor labels = at::randint(1000, {batch}, at::TensorOptions().dtype(at::kLong)).to(device);
  std::vector<uint64_t> keys(static_cast<size_t>(batch));
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = 1000 + i;
  auto step = [&] {
    model->set_dropout_keys(keys);
    return sgd_step(*model, sgd, images, labels, &reducer);  // .item(): one sync a step, as hpa-train
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: cuDNN algorithm search, allocator
  sync(device);
  std::vector<double> times;
  for (int64_t i = 0; i < o.timed_steps; ++i) {
    const double start = hpa::wall_seconds();
    step();
    sync(device);
    times.push_back(hpa::wall_seconds() - start);
  }
  std::sort(times.begin(), times.end());
  return static_cast<double>(batch) / times[times.size() / 2];
}

// Every --configs x --batch; the first pair also under the keys of earlier checks.
double throughput(const CheckOptions& o, const c10::Device& device, const hpa::comm::World& world) {
  {
    hpa::models::ConvNet probe = make(Arch::vgg19, 1000, 1.0, 0.5, c10::kCPU);
    const double forward = hpa::reinit::estimate_costs(*probe, {}, {3, o.image, o.image}, false).full;
    // Backward costs two forward passes (gradients of inputs and of weights).
    print("throughput.train_gflop_per_image", 3.0 * forward / 1e9);
  }
  print("throughput.model", "vgg19 " + std::to_string(o.image) + "x" + std::to_string(o.image));
  print("throughput.tf32", o.tf32 ? "on (cuDNN convolutions)" : "off");
  if (device.is_cuda()) print("throughput.note", "cudnn.benchmark on, as hpa-train sets it on CUDA");
  double first = 0;
  for (const std::string& config : o.configs)
    for (int64_t batch : o.batches) {
      const double rate = throughput_of(o, device, world, config, batch);
      print("throughput." + config + ".b" + std::to_string(batch) + ".images_per_s", rate);
      if (first == 0) {
        first = rate;
        print("throughput.median_step_s", static_cast<double>(batch) / rate);
        print("throughput.images_per_s", rate);
      }
    }
  return first;
}

void snapshot(const CheckOptions& o, const c10::Device& device, double images_per_s) {
  hpa::models::ConvNet model = make(Arch::vgg19, 1000, 1.0, 0.5, device);
  const auto params = hpa::models::named_parameters(*model);
  double bytes = 0;
  for (const auto& [name, tensor] : params) bytes += static_cast<double>(tensor.numel()) * 4;
  sync(device);
  double start = hpa::wall_seconds();
  std::vector<at::Tensor> host;
  for (const auto& [name, tensor] : params) host.push_back(tensor.to(at::kCPU));
  const double copy_s = hpa::wall_seconds() - start;
  const std::string run_dir = (std::filesystem::path(o.dir) / "hpa-device-check-run").string();
  std::filesystem::remove_all(run_dir);
  hpa::store::RunDescription run;
  run.arch = "vgg19";
  run.seeds = {0};
  run.epochs = 1;
  hpa::store::create_run_folders(run_dir, run);
  hpa::store::EpochSnapshot snap;
  snap.seed = 0;
  snap.epoch = 1;
  snap.params = params;  // on the device: the writer copies to the host itself, as in hpa-train
  start = hpa::wall_seconds();
  hpa::store::write_epoch_file(run_dir, snap);
  const double write_s = hpa::wall_seconds() - start;
  std::filesystem::remove_all(run_dir);
  const double epoch_s = 1281167.0 / images_per_s;
  print("snapshot.megabytes", bytes / 1e6);
  print("snapshot.device_to_host_s", copy_s);
  print("snapshot.epoch_file_write_s", write_s);
  print("snapshot.imagenet_epoch_s_at_measured_rate", epoch_s);
  print("snapshot.share_of_epoch_percent", 100.0 * write_s / epoch_s);
}

void grid(const CheckOptions& o, const c10::Device& device) {
  at::manual_seed(11);
  hpa::data::ImageSet set;
  set.images = at::randint(256, {o.grid_images, 3, 32, 32}, at::TensorOptions().dtype(at::kByte));
  set.labels = at::randint(10, {o.grid_images}, at::TensorOptions().dtype(at::kLong));
  std::vector<int64_t> indices(static_cast<size_t>(o.grid_images));
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = static_cast<int64_t>(i);
  hpa::data::InMemorySamples samples(set, indices, {{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}}, {}, 0);
  // fp32 on the CPU, fp32 on the device, bf16 on the device (the CPU alone without a GPU: fp32, bf16).
  std::vector<int64_t> counts[3];
  double rate[3] = {0, 0, 0};
  const c10::Device where[3] = {c10::kCPU, device, device};
  const hpa::models::Precision precision[3] = {hpa::models::Precision::fp32, hpa::models::Precision::fp32,
                                               hpa::models::Precision::bf16};
  for (int d = 0; d < 3; ++d) {
    if (d == 1 && !device.is_cuda()) continue;
    hpa::models::ConvNet model = make(Arch::vgg11, 10, 0.5, 0.5, where[d]);
    model->eval();
    std::vector<hpa::reinit::Variant> variants;
    for (int64_t v = 0; v < o.grid_variants; ++v) {
      auto [weight, bias] = hpa::models::draw_conv_init(*model, "features.8", Arch::vgg11,
                                                        hpa::models::InitScheme::torchvision, 100 + v);
      variants.push_back({weight.to(where[d]), bias.to(where[d])});
    }
    hpa::reinit::EvalSettings settings;
    settings.device = where[d];
    settings.precision = precision[d];
    settings.batch_size = 500;
    settings.stack_limit = 4000;
    hpa::reinit::count_correct_fused(*model, "features.8", variants, samples, settings, [] {});  // warm-up
    sync(where[d]);
    const double start = hpa::wall_seconds();
    counts[d] = hpa::reinit::count_correct_fused(*model, "features.8", variants, samples, settings, [] {});
    sync(where[d]);
    rate[d] = static_cast<double>(o.grid_variants) / (hpa::wall_seconds() - start);
  }
  print("grid.model", "vgg11 width 0.5, 32x32, layer features.8, " + std::to_string(o.grid_variants) +
                          " variants x " + std::to_string(o.grid_images) + " images");
  const auto worst_diff = [&](int a, int b) {
    int64_t worst = 0;
    for (size_t v = 0; v < counts[a].size(); ++v)
      worst = std::max(worst, std::abs(counts[a][v] - counts[b][v]));
    return static_cast<double>(worst);
  };
  print("grid.cells_per_s_cpu", rate[0]);
  if (device.is_cuda()) {
    print("grid.cells_per_s_device", rate[1]);
    print("grid.speedup", rate[1] / rate[0]);
    print("grid.max_count_diff_images", worst_diff(0, 1));
  }
  const int fp32 = device.is_cuda() ? 1 : 0;
  print("grid.cells_per_s_device_bf16", rate[2]);
  print("grid.bf16_speedup_over_fp32", rate[2] / rate[fp32]);
  print("grid.bf16_max_count_diff_images", worst_diff(fp32, 2));
}

// --compare: what the real programs wrote, read back.

// Seed 0's per-step losses of RUN.loss ('seed epoch step loss' lines; '#' lines are resume marks).
std::vector<double> read_losses(const std::string& run) {
  const std::string path = run + ".loss";
  std::ifstream in(path);
  HPA_REQUIRE(in, path << ": cannot read the loss log");
  std::vector<double> losses;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    int64_t seed = 0, epoch = 0, step = 0;
    double loss = 0;
    HPA_REQUIRE(fields >> seed >> epoch >> step >> loss, path << ": malformed line '" << line << "'");
    if (seed == 0) losses.push_back(loss);
  }
  HPA_REQUIRE(!losses.empty(), path << ": no step of seed 0");
  return losses;
}

// The final epoch's parameters of a run's seed 0.
hpa::models::NamedTensors final_params(const std::string& run) {
  const hpa::store::RunDescription description = hpa::store::read_run(run);
  return hpa::store::read_epoch_params(hpa::store::epoch_file_path(run, 0, description.epochs));
}

// Largest per-tensor difference of b from a, relative (max |a - b| / max |a|) or absolute.
double params_diff(const hpa::models::NamedTensors& a, const hpa::models::NamedTensors& b, bool relative) {
  HPA_REQUIRE(a.size() == b.size(), "the runs hold different parameter sets");
  double worst = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    HPA_REQUIRE(a[k].first == b[k].first && a[k].second.sizes() == b[k].second.sizes(),
                "parameter " << a[k].first << " differs in name or shape");
    worst = std::max(worst, relative ? max_relative(b[k].second, a[k].second)
                                     : (a[k].second.to(at::kDouble) - b[k].second.to(at::kDouble))
                                           .abs().max().item<double>());
  }
  return worst;
}

// The device's run against CPU1 (one thread), judged by the CPU's own rounding: CPU2 (two threads)
// differs from CPU1 only in summation order. Per step k, relative loss differences d(k) (device)
// and b(k) (CPU2); envelope B(k) = max b(j <= k). Rounding differences grow by about g per step
// (fitted from b once it is non-zero; 1 if it never is). Allowed: margin * max(B(k), u * g^k), with
// u = 1e-6 the relative difference two correct fp32 forward passes may start with (docs/gpu.md).
bool compare_train(const CheckOptions& o) {
  HPA_REQUIRE(o.compare.size() == 4, "--compare train needs DEV CPU1 CPU2");
  const std::vector<double> dev = read_losses(o.compare[1]), one = read_losses(o.compare[2]),
                            two = read_losses(o.compare[3]);
  HPA_REQUIRE(dev.size() == one.size() && two.size() == one.size(),
              "the loss logs hold different step counts: " << dev.size() << ", " << one.size() << ", " << two.size());
  const size_t steps = one.size();
  std::vector<double> d(steps), b(steps);
  for (size_t k = 0; k < steps; ++k) {
    d[k] = std::abs(dev[k] - one[k]) / std::abs(one[k]);
    b[k] = std::abs(two[k] - one[k]) / std::abs(one[k]);
  }
  double growth = 1;
  const auto first = std::find_if(b.begin(), b.end(), [](double x) { return x > 0; });
  if (first != b.end()) {
    const auto peak = std::max_element(first, b.end());
    if (peak > first) growth = std::pow(*peak / *first, 1.0 / static_cast<double>(peak - first));
  }
  growth = std::clamp(growth, 1.0, 4.0);
  constexpr double u = 1e-6;
  double envelope = 0, worst_ratio = 0, first5 = 0;
  size_t worst_step = 0;
  for (size_t k = 0; k < steps; ++k) {
    envelope = std::max(envelope, b[k]);
    const double allowed = o.margin * std::max(envelope, u * std::pow(growth, static_cast<double>(k)));
    if (d[k] / allowed > worst_ratio) worst_ratio = d[k] / allowed, worst_step = k;
    if (k < 5) first5 = std::max(first5, d[k]);
  }
  const auto p_one = final_params(o.compare[2]);
  const double p_dev = params_diff(p_one, final_params(o.compare[1]), true);
  const double p_two = params_diff(p_one, final_params(o.compare[3]), true);
  const double p_allowed = o.margin * std::max(p_two, u * std::pow(growth, static_cast<double>(steps)));
  print("train.steps", static_cast<double>(steps));
  print("train.loss_first", one.front());
  print("train.loss_last", one.back());
  print("train.loss_rel_diff_first5", first5);
  print("train.loss_rel_diff_max", *std::max_element(d.begin(), d.end()));
  print("train.cpu_threads_loss_rel_diff_max", envelope);
  print("train.cpu_growth_per_step", growth);
  print("train.loss_worst_ratio_to_allowed", worst_ratio);
  print("train.loss_worst_step", static_cast<double>(worst_step));
  print("train.param_rel_diff", p_dev);
  print("train.cpu_threads_param_rel_diff", p_two);
  print("train.param_allowed", p_allowed);
  const bool ok = worst_ratio <= 1 && p_dev <= p_allowed;
  print("train.ok", ok ? "yes" : "NO");
  return ok;
}

bool compare_params(const CheckOptions& o) {
  HPA_REQUIRE(o.compare.size() == 3, "--compare params needs A B");
  const double diff = params_diff(final_params(o.compare[1]), final_params(o.compare[2]), false);
  print("params.max_abs_diff", diff);
  print("params.ok", diff <= o.tolerance ? "yes" : "NO");
  return diff <= o.tolerance;
}

bool compare_grids(const CheckOptions& o) {
  HPA_REQUIRE(o.compare.size() == 3, "--compare grids needs A B");
  hpa::store::ReinitGrid a, b;
  HPA_REQUIRE(hpa::store::read_reinit(o.compare[1], a), o.compare[1] << ": no reinit.h5");
  HPA_REQUIRE(hpa::store::read_reinit(o.compare[2], b), o.compare[2] << ": no reinit.h5");
  b.precision = a.precision;  // grids of either precision are compared cell by cell
  HPA_REQUIRE(a.same_cells(b) && a.correct.size() == b.correct.size(), "the grids hold different cells");
  const double tolerance = std::max(o.tolerance, o.tolerance_fraction * static_cast<double>(a.test_samples));
  int64_t worst = 0, differing = 0, missing = 0;
  for (size_t i = 0; i < a.correct.size(); ++i) {
    if (a.correct[i] < 0 || b.correct[i] < 0) ++missing;
    worst = std::max(worst, std::abs(a.correct[i] - b.correct[i]));
    differing += a.correct[i] != b.correct[i];
  }
  for (size_t i = 0; i < a.baseline_correct.size(); ++i)
    worst = std::max(worst, std::abs(a.baseline_correct[i] - b.baseline_correct[i]));
  print("grids.cells", static_cast<double>(a.correct.size()));
  print("grids.test_images", static_cast<double>(a.test_samples));
  print("grids.cells_differing", static_cast<double>(differing));
  print("grids.max_count_diff_images", static_cast<double>(worst));
  const bool ok = missing == 0 && static_cast<double>(worst) <= tolerance;
  print("grids.allowed_images", tolerance);
  print("grids.ok", ok ? "yes" : "NO");
  return ok;
}

// A run trained with --precision bf16 against the same run in fp32: the largest per-step relative loss
// difference must stay within --tolerance; the final parameters' relative difference is reported.
bool compare_precision(const CheckOptions& o) {
  HPA_REQUIRE(o.compare.size() == 3, "--compare precision needs BF16RUN FP32RUN");
  const std::vector<double> low = read_losses(o.compare[1]), full = read_losses(o.compare[2]);
  HPA_REQUIRE(low.size() == full.size() && !full.empty(), "the loss logs hold different step counts");
  double worst = 0;
  for (size_t k = 0; k < full.size(); ++k)
    worst = std::max(worst, std::abs(low[k] - full[k]) / std::abs(full[k]));
  const double params = params_diff(final_params(o.compare[2]), final_params(o.compare[1]), true);
  print("precision.steps", static_cast<double>(full.size()));
  print("precision.loss_rel_diff_max", worst);
  print("precision.param_rel_diff", params);
  print("precision.ok", worst <= o.tolerance ? "yes" : "NO");
  return worst <= o.tolerance;
}

bool compare_outputs(const CheckOptions& o) {
  const std::string& kind = o.compare[0];
  if (kind == "train") return compare_train(o);
  if (kind == "precision") return compare_precision(o);
  if (kind == "params") return compare_params(o);
  HPA_REQUIRE(kind == "grids", "--compare: train, params or grids, not '" << kind << "'");
  return compare_grids(o);
}

}  // namespace

int main(int argc, char** argv) {
  hpa::comm::World world(argc, argv);
  CheckOptions o;
  po::options_description description("hpa-device-check options");
  description.add_options()("help", "this text")(
      "section", po::value(&o.sections)->multitoken(),
      "nccl throughput snapshot grid (default: all, in that order)")(
      "compare", po::value(&o.compare)->multitoken(),
      "train DEV CPU1 CPU2: per-step losses (RUN.loss) and final parameters of a run on the device against "
      "the CPU's 1-vs-2-thread difference; params A B: final parameters, max abs difference <= --tolerance; "
      "grids A B: every cell's correct count of RUN/reinit.h5, largest difference <= --tolerance images; "
      "precision BF16 FP32: per-step relative loss difference <= --tolerance")(
      "tolerance", po::value(&o.tolerance)->default_value(0.0),
      "compare params and grids: allowed difference")(
      "tolerance-fraction", po::value(&o.tolerance_fraction)->default_value(0.0),
      "compare grids: allowed difference as a fraction of the test images (the larger of the two applies)")(
      "margin", po::value(&o.margin)->default_value(10.0),
      "compare train: allowed multiple of the CPU's own rounding envelope")(
      "device", po::value(&o.device)->default_value("cpu"), "cpu or cuda")(
      "dir", po::value(&o.dir)->default_value("."), "scratch folder for the snapshot's run directory")(
      "batch", po::value(&o.batches)->multitoken()->default_value({64}, "64"), "throughput: batch sizes")(
      "configs", po::value(&o.configs)->multitoken()->default_value({"fp32"}, "fp32"),
      "throughput: fp32 bf16 fp32-cl bf16-cl (-cl: channels-last)")(
      "image", po::value(&o.image)->default_value(224), "throughput: image side")(
      "timed-steps", po::value(&o.timed_steps)->default_value(10), "throughput: timed steps (median)")(
      "grid-images", po::value(&o.grid_images)->default_value(1000), "grid: test images")(
      "grid-variants", po::value(&o.grid_variants)->default_value(8), "grid: variants (cells) timed")(
      "tf32", po::value(&o.tf32)->default_value(true),
      "throughput: TF32 in cuDNN convolutions (PyTorch's default)")(
      "threads", po::value(&o.threads)->default_value(0), "CPU threads (0: LibTorch's default)");
  try {
    po::variables_map values;
    po::store(po::parse_command_line(argc, argv, description), values);
    po::notify(values);
    if (values.count("help")) {
      std::cout << "Usage: hpa-device-check [--device cuda] [--section NAME...]\n"
                   "       hpa-device-check --compare train|precision|params|grids RUN...\n"
                << description;
      return 0;
    }
    if (!o.compare.empty()) return compare_outputs(o) ? 0 : 1;
    if (o.sections.empty()) o.sections = {"nccl", "throughput", "snapshot", "grid"};
    const c10::Device device = device_of(o.device);
    if (o.threads > 0) at::set_num_threads(o.threads);
    at::globalContext().setAllowTF32CuDNN(o.tf32);
    if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
    print("device", device.is_cuda() ? "cuda" : "cpu");
    double images_per_s = 0;
    int failures = 0;
    for (const std::string& section : o.sections) {
      const double start = hpa::wall_seconds();
      try {
        if (section == "nccl") {
          nccl(device, world);
        } else if (section == "throughput") {
          images_per_s = throughput(o, device, world);
        } else if (section == "snapshot") {
          snapshot(o, device, images_per_s > 0 ? images_per_s : 1000.0);  // without throughput: nominal
        } else if (section == "grid") {
          grid(o, device);
        } else {
          HPA_FAIL("--section: unknown section '" << section << "'");
        }
      } catch (const std::exception& error) {
        std::cerr << "hpa-device-check: " << section << ": " << error.what() << std::endl;
        print(section + ".error", error.what());
        ++failures;
      }
      print(section + ".seconds", hpa::wall_seconds() - start);
    }
    return failures ? 1 : 0;
  } catch (const std::exception& error) {
    std::cerr << "hpa-device-check: " << error.what() << std::endl;
    return 2;
  }
}
