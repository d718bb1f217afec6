// ImageNet input throughput on the images of a pack (HPA_BENCH_PACK=train.h5), Google Benchmark:
//  - TrainPipeline: hpa's training input, all of it: read by offset, decode (cropped, DCT-scaled
//    where allowed), RandomResizedCrop + flip, normalize into float batches of 256, on N threads;
//  - EvalPipeline: the same with Resize(256) + CenterCrop(224);
//  - FullDecode: a plain full-size libjpeg-turbo decode (TurboJPEG tjDecompress2 to RGB) of the
//    same bytes on N threads, held in memory: the floor of any loader that decodes every image.
// Items are images; src/bench/imagenet_input.sh runs this beside torchvision's DataLoader.
#include "common/process.hpp"
#include "data/batches.hpp"
#include "data/packed_dataset.hpp"

#include <benchmark/benchmark.h>
#include <turbojpeg.h>

#include <atomic>
#include <cstdlib>
#include <thread>

namespace {

std::shared_ptr<const hpa::store::ImagePack> bench_pack() {
  static std::shared_ptr<const hpa::store::ImagePack> pack = [] {
    const char* path = std::getenv("HPA_BENCH_PACK");
    if (!path) {
      std::fprintf(stderr, "set HPA_BENCH_PACK to an image pack (hpa-pack)\n");
      std::exit(2);
    }
    return hpa::store::ImagePack::open(path);
  }();
  return pack;
}

void run_pipeline(benchmark::State& state, bool train) {
  const auto pack = bench_pack();
  hpa::data::ImageTransform transform;
  transform.train = train;
  const hpa::data::PackedSamples samples(
      pack, hpa::data::all_indices(pack->size()), transform,
      hpa::data::constant_normalization(hpa::data::NormalizationKind::imagenet, 3), 1);
  const int64_t batch = 256, n = samples.size(), batches = (n + batch - 1) / batch;
  uint64_t epoch = 0;
  for (auto _ : state) {
    hpa::data::LoaderOptions options;
    options.threads = static_cast<int>(state.range(0));
    options.batches_ahead = 3;
    hpa::data::BatchLoader loader(
        samples, batches,
        [&](int64_t b) {
          hpa::data::BatchPlan plan;
          for (int64_t k = b * batch; k < std::min(n, (b + 1) * batch); ++k) plan.positions.push_back(k);
          plan.global_size = static_cast<int64_t>(plan.positions.size());
          return plan;
        },
        ++epoch, options);
    hpa::data::Batch out;
    while (loader.next(out)) benchmark::DoNotOptimize(out.images.data_ptr<float>());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
}

void TrainPipeline(benchmark::State& state) { run_pipeline(state, true); }
void EvalPipeline(benchmark::State& state) { run_pipeline(state, false); }

void FullDecode(benchmark::State& state) {
  const auto pack = bench_pack();
  std::vector<std::vector<uint8_t>> files(static_cast<size_t>(pack->size()));
  for (int64_t i = 0; i < pack->size(); ++i) pack->read(i, files[static_cast<size_t>(i)]);
  const int threads = static_cast<int>(state.range(0));
  int64_t decoded = 0;
  for (auto _ : state) {
    std::atomic<int64_t> next{0}, done{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&] {
        tjhandle decoder = tjInitDecompress();
        std::vector<uint8_t> rgb;
        for (int64_t i; (i = next++) < static_cast<int64_t>(files.size());) {
          const std::vector<uint8_t>& jpeg = files[static_cast<size_t>(i)];
          int width = 0, height = 0, subsampling = 0, colorspace = 0;
          if (tjDecompressHeader3(decoder, jpeg.data(), jpeg.size(), &width, &height, &subsampling,
                                  &colorspace) != 0)
            continue;  // a PNG among the JPEGs: not a libjpeg-turbo image
          rgb.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
          if (tjDecompress2(decoder, jpeg.data(), jpeg.size(), rgb.data(), width, 0, height, TJPF_RGB, 0) ==
              0)
            ++done;
        }
        tjDestroy(decoder);
      });
    for (std::thread& worker : workers) worker.join();
    decoded += done;
  }
  state.SetItemsProcessed(decoded);
}

}  // namespace

BENCHMARK(TrainPipeline)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(EvalPipeline)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(FullDecode)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
int main(int argc, char** argv) {
  hpa::tune_allocator();  // as every hpa executable: batch memory stays in the heap
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
