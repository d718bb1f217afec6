// Google Benchmark: the projection statistic over every conv layer of VGG19 (the paper's largest
// per-epoch statistics workload), reported as bytes of weights read per second.
#include "models/architectures.hpp"
#include "models/parameters.hpp"
#include "stats/projection.hpp"

#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

namespace {

struct Vgg19ConvWeights {
  std::vector<at::Tensor> weights;
  int64_t total_bytes = 0;
  Vgg19ConvWeights() {
    hpa::models::ModelSpec spec;
    spec.arch = hpa::models::Arch::vgg19;
    hpa::models::ConvNet model = hpa::models::make_model(spec, hpa::models::InitScheme::paper, /*seed=*/1);
    const hpa::models::NamedTensors params = hpa::models::named_parameters(*model);
    for (const hpa::stats::LayerInfo& layer : hpa::stats::find_layers(params, /*with_linear=*/false))
      for (const auto& [name, tensor] : params)
        if (name == layer.weight_name) {
          weights.push_back(tensor.clone());
          total_bytes += tensor.numel() * static_cast<int64_t>(tensor.element_size());
        }
  }
};

const Vgg19ConvWeights& vgg19() {
  static const Vgg19ConvWeights instance;
  return instance;
}

void BM_Vgg19ConvStats(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  const Vgg19ConvWeights& model = vgg19();
  for (auto _ : state) {
    for (const at::Tensor& weight : model.weights) {
      const at::Tensor cosines = hpa::stats::filter_cosines(weight);
      benchmark::DoNotOptimize(hpa::stats::neg_fraction(cosines));
    }
  }
  state.SetBytesProcessed(state.iterations() * model.total_bytes);
  state.counters["layers"] = static_cast<double>(model.weights.size());
}
BENCHMARK(BM_Vgg19ConvStats)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same computation written with ATen operators in float64 (what a direct port of the
// Python reference does), as a baseline for the fused kernel above.
void BM_Vgg19ConvStatsAten(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  const Vgg19ConvWeights& model = vgg19();
  for (auto _ : state) {
    for (const at::Tensor& weight : model.weights) {
      const at::Tensor rows = weight.to(at::kDouble).flatten(1);
      const at::Tensor cosines =
          rows.sum(1) / (rows.norm(2, 1) * std::sqrt(static_cast<double>(rows.size(1))));
      benchmark::DoNotOptimize((cosines <= 0).sum().item<int64_t>());
    }
  }
  state.SetBytesProcessed(state.iterations() * model.total_bytes);
}
BENCHMARK(BM_Vgg19ConvStatsAten)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
