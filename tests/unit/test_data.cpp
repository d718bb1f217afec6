// Data layer: IDX parsing (valid and every malformed case), splits, keyed randomness, rank shares
// and batch assembly.
#include "common/error.hpp"
#include "common/keyed_random.hpp"
#include "data/batches.hpp"
#include "data/dataset.hpp"
#include "data/idx.hpp"
#include "data/memory_dataset.hpp"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

namespace {

namespace fs = std::filesystem;

std::string idx_bytes(const std::vector<uint32_t>& dims, int fill_count = -1, uint8_t type = 0x08) {
  std::string bytes = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  size_t total = 1;
  for (uint32_t d : dims) {
    bytes += {static_cast<char>(d >> 24), static_cast<char>(d >> 16), static_cast<char>(d >> 8),
              static_cast<char>(d)};
    total *= d;
  }
  const size_t count = fill_count < 0 ? total : static_cast<size_t>(fill_count);
  for (size_t i = 0; i < count; ++i) bytes.push_back(static_cast<char>(i % 7));
  return bytes;
}

class IdxFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hpa_idx_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write_raw(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::string write_gz(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    gzFile file = gzopen(path.c_str(), "wb");
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
    return path;
  }
  std::string error_of(const std::string& path, int dims) {
    try {
      hpa::data::read_idx_ubyte(path, dims);
    } catch (const hpa::Error& error) {
      return error.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(IdxFiles, ReadsRawAndGzip) {
  const std::string bytes = idx_bytes({3, 2, 2});
  for (const std::string& path : {write_raw("a-idx3-ubyte", bytes), write_gz("a-idx3-ubyte.gz", bytes)}) {
    const at::Tensor t = hpa::data::read_idx_ubyte(path, 3);
    EXPECT_EQ(t.sizes(), (std::vector<int64_t>{3, 2, 2}));
    EXPECT_EQ(t[1][1][1].item<uint8_t>(), 7 % 7);
    EXPECT_EQ(t[0][0][1].item<uint8_t>(), 1);
  }
}

TEST_F(IdxFiles, EveryMalformedCaseNamesTheFile) {
  const std::string truncated = write_raw("t", idx_bytes({3, 2, 2}, 10));
  EXPECT_NE(error_of(truncated, 3).find("truncated"), std::string::npos);
  EXPECT_NE(error_of(truncated, 3).find(truncated), std::string::npos);
  const std::string truncated_gz = write_gz("t.gz", idx_bytes({3, 2, 2}, 10));
  EXPECT_NE(error_of(truncated_gz, 3).find("truncated"), std::string::npos) << error_of(truncated_gz, 3);
  std::string wrong = idx_bytes({3, 2, 2});
  wrong[0] = 0x1f;
  EXPECT_NE(error_of(write_raw("m", wrong), 3).find("not an IDX file"), std::string::npos);
  EXPECT_NE(error_of(write_raw("ty", idx_bytes({3}, -1, 0x0d)), 1).find("not unsigned byte"),
            std::string::npos);
  EXPECT_NE(error_of(write_raw("d", idx_bytes({3})), 3).find("1 dimensions, expected 3"), std::string::npos);
  EXPECT_NE(error_of(write_raw("long", idx_bytes({3}) + "xx"), 1).find("longer than its IDX header"),
            std::string::npos);
  EXPECT_NE(error_of(write_raw("zero", idx_bytes({0})), 1).find("size 0"), std::string::npos);
  // Header only (fill 0): 2^18 * 2^18 = 2^36 passes the bound, times 2^28 wraps a uint64 to 0 unless
  // the product is checked.
  const std::string wraps = write_raw("wraps", idx_bytes({1u << 18, 1u << 18, 1u << 28}, 0));
  EXPECT_NE(error_of(wraps, 3).find("more than 64 GiB"), std::string::npos) << error_of(wraps, 3);
  EXPECT_NE(error_of((dir_ / "absent").string(), 1).find("cannot open"), std::string::npos);
  // A gzip stream with its middle overwritten: zlib reports a data or CRC error.
  std::string compressed;
  {
    const std::string path = write_gz("c.gz", idx_bytes({4000}));
    std::ifstream in(path, std::ios::binary);
    compressed.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (size_t i = 20; i < compressed.size() - 12; i += 3)
    compressed[i] = static_cast<char>(compressed[i] ^ 0x5a);
  const std::string corrupt = write_raw("corrupt.gz", compressed);
  const std::string message = error_of(corrupt, 1);
  EXPECT_NE(message.find(corrupt), std::string::npos) << message;
  EXPECT_TRUE(message.find("corrupt") != std::string::npos || message.find("truncated") != std::string::npos)
      << message;
}

TEST_F(IdxFiles, DatasetChecksCountsAndDirectory) {
  write_raw("train-images-idx3-ubyte", idx_bytes({5, 4, 4}));
  write_gz("train-labels-idx1-ubyte.gz", idx_bytes({4}));  // 4 labels for 5 images
  write_raw("t10k-images-idx3-ubyte", idx_bytes({2, 4, 4}));
  write_raw("t10k-labels-idx1-ubyte", idx_bytes({2}));
  try {
    hpa::data::load_idx_dataset("fashion-mnist", dir_.string());
    FAIL();
  } catch (const hpa::Error& error) {
    EXPECT_NE(std::string(error.what()).find("4 labels for 5 images"), std::string::npos) << error.what();
  }
  write_gz("train-labels-idx1-ubyte.gz", idx_bytes({5}));
  const auto dataset = hpa::data::load_idx_dataset("mnist", dir_.string());
  EXPECT_EQ(dataset->set(hpa::data::Part::train).images.sizes(), (std::vector<int64_t>{5, 1, 4, 4}));
  EXPECT_EQ(dataset->size(hpa::data::Part::test), 2);
  EXPECT_EQ(dataset->sample_shape(), (std::vector<int64_t>{1, 4, 4}));
  EXPECT_THROW(hpa::data::load_dataset("mnist", (dir_ / "nowhere").string(), {}), hpa::Error);
  EXPECT_THROW(hpa::data::load_dataset("svhn", dir_.string(), {}), hpa::Error);
  fs::remove(dir_ / "t10k-labels-idx1-ubyte");
  EXPECT_THROW(hpa::data::load_dataset("mnist", dir_.string(), {}), hpa::Error);
}

hpa::data::ImageSet synthetic_set(int64_t n, int64_t classes) {
  hpa::data::ImageSet set;
  set.images = at::randint(0, 256, {n, 1, 6, 6}, at::TensorOptions().dtype(at::kByte));
  set.labels = at::arange(n, at::TensorOptions().dtype(at::kLong)).remainder(classes);
  return set;
}

std::vector<int64_t> labels_of(const hpa::data::ImageSet& set) {
  return {set.labels.data_ptr<int64_t>(), set.labels.data_ptr<int64_t>() + set.size()};
}

// Every sample of `samples` at `positions`, assembled by a loader with `threads` workers, as one tensor.
at::Tensor load_all(const hpa::data::SampleSet& samples, const std::vector<int64_t>& positions,
                    uint64_t epoch, int threads = 1) {
  hpa::data::LoaderOptions options;
  options.threads = threads;
  hpa::data::BatchLoader loader(
      samples, 1,
      [&](int64_t) {
        return hpa::data::BatchPlan{positions, static_cast<int64_t>(positions.size())};
      },
      epoch, options);
  hpa::data::Batch batch;
  EXPECT_TRUE(loader.next(batch));
  return batch.images;
}

TEST(Data, KeyedPermutationIsAPermutationAndDeterministic) {
  const auto a = hpa::keyed_permutation(1000, 3, 1, hpa::RandomStream::epoch_order);
  const auto b = hpa::keyed_permutation(1000, 3, 1, hpa::RandomStream::epoch_order);
  const auto c = hpa::keyed_permutation(1000, 3, 2, hpa::RandomStream::epoch_order);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 1000u);
}

TEST(Data, RankSharesCoverEverySampleOnce) {
  for (int64_t count : {0, 1, 7, 128, 129}) {
    for (int size : {1, 2, 3, 5}) {
      int64_t next = 0;
      for (int rank = 0; rank < size; ++rank) {
        const auto [first, n] = hpa::data::rank_share(count, rank, size);
        EXPECT_EQ(first, next);
        next += n;
      }
      EXPECT_EQ(next, count);
    }
  }
}

TEST(Data, ValidationSplitPlainAndStratified) {
  const std::vector<int64_t> labels = labels_of(synthetic_set(1000, 10));
  const auto split = hpa::data::split_validation(labels, 0.1, 5, false, 10);
  EXPECT_EQ(split.validation.size(), 100u);
  EXPECT_EQ(split.train.size(), 900u);
  EXPECT_TRUE(std::is_sorted(split.train.begin(), split.train.end()));
  EXPECT_EQ(split.validation, hpa::data::split_validation(labels, 0.1, 5, false, 10).validation);
  EXPECT_NE(split.validation, hpa::data::split_validation(labels, 0.1, 6, false, 10).validation);
  const auto stratified = hpa::data::split_validation(labels, 0.1, 5, true, 10);
  std::vector<int64_t> per_class(10, 0);
  for (int64_t index : stratified.validation)
    ++per_class[static_cast<size_t>(labels[static_cast<size_t>(index)])];
  EXPECT_EQ(per_class, std::vector<int64_t>(10, 10));
  EXPECT_EQ(hpa::data::split_validation(labels, 0.0, 5, false, 10).validation.size(), 0u);
  EXPECT_THROW(hpa::data::split_validation(labels, 1.0, 5, false, 10), hpa::Error);
}

TEST(Data, DatasetNormalizationIsTheSplitsOwnMeanAndStd) {
  // One pass over uint8 (histograms) against a float64 computation with ATen over the same samples.
  hpa::data::InMemoryDataset dataset("synthetic", 10, synthetic_set(200, 10), synthetic_set(10, 10));
  const std::vector<int64_t> chosen = {3, 17, 18, 40, 41, 42, 150, 199};
  const hpa::data::Normalization n = dataset.normalization(hpa::data::NormalizationKind::dataset, chosen);
  const at::Tensor pixels = dataset.set(hpa::data::Part::train)
                                .images.index_select(0, at::tensor(chosen, at::kLong))
                                .to(at::kDouble)
                                .div(255.0);
  EXPECT_NEAR(n.mean[0], pixels.mean().item<double>(), 1e-7);
  EXPECT_NEAR(n.std[0], pixels.std(/*unbiased=*/false).item<double>(), 1e-7);
  const hpa::data::Normalization imagenet =
      hpa::data::constant_normalization(hpa::data::NormalizationKind::imagenet, 3);
  EXPECT_FLOAT_EQ(imagenet.mean[1], 0.456f);
  EXPECT_FLOAT_EQ(imagenet.std[2], 0.225f);
  EXPECT_THROW(dataset.normalization(hpa::data::NormalizationKind::imagenet, chosen),
               hpa::Error);  // 1 channel
  EXPECT_THROW(hpa::data::parse_normalization("zscore"), hpa::Error);
}

TEST(Data, AssemblyNormalizesAndAugmentsPerSampleIndependentOfBatch) {
  const hpa::data::ImageSet set = synthetic_set(8, 2);
  const hpa::data::Normalization unit =
      hpa::data::constant_normalization(hpa::data::NormalizationKind::unit, 1);
  const hpa::data::InMemorySamples plain(set, hpa::data::all_indices(8), unit, {}, 1);
  const at::Tensor two = load_all(plain, {3, 5}, 0);
  EXPECT_TRUE(at::allclose(two[0], set.images[3].to(at::kFloat) / 255.0));
  EXPECT_EQ(plain.label(5), 1);

  hpa::data::Augmentation augmentation;
  augmentation.enabled = true;
  const hpa::data::InMemorySamples augmented(set, hpa::data::all_indices(8), unit, augmentation, 1);
  // Sample 5's augmentation depends on (seed, epoch, 5) only, not on its batch neighbours, nor on
  // where it sits in a subset of the set.
  const at::Tensor alone = load_all(augmented, {5}, 2)[0];
  EXPECT_TRUE(at::equal(alone, load_all(augmented, {0, 5, 7}, 2)[1]));
  const hpa::data::InMemorySamples subset(set, {2, 5}, unit, augmentation, 1);
  EXPECT_TRUE(at::equal(alone, load_all(subset, {1}, 2)[0]));
  // Augmentation keeps the pixel multiset within the shifted window: values stay in [0, 1].
  EXPECT_LE(alone.max().item<float>(), 1.0f);
  EXPECT_GE(alone.min().item<float>(), 0.0f);
  // Across many epochs, some draws differ from the plain image.
  int differing = 0;
  for (uint64_t epoch = 1; epoch <= 20; ++epoch)
    differing += at::equal(load_all(augmented, {5}, epoch), load_all(plain, {5}, epoch)) ? 0 : 1;
  EXPECT_GT(differing, 10);
}

// A sample set that records nothing but fails on demand, for the loader's own tests.
class CountingSamples : public hpa::data::SampleSet {
 public:
  explicit CountingSamples(int64_t fail_at = -1) : fail_at_(fail_at) {}
  int64_t size() const override { return 1000; }
  int64_t label(int64_t position) const override { return position % 7; }
  std::vector<int64_t> sample_shape() const override { return {2, 3, 1}; }
  void write_sample(int64_t position, uint64_t epoch, float* out) const override {
    if (position == fail_at_) HPA_FAIL("bad sample " << position);
    for (int k = 0; k < 6; ++k)
      out[k] = static_cast<float>(position * 10 + k) + static_cast<float>(epoch) / 8;
  }

 private:
  int64_t fail_at_;
};

TEST(Data, LoaderDeliversEveryBatchInOrderForAnyThreadCount) {
  const CountingSamples samples;
  const auto plan = [](int64_t b) {  // uneven batches, one empty, several of the same size
    hpa::data::BatchPlan p;
    for (int64_t k = 0; k < (b == 3 ? 0 : 1 + 5 * (b % 4)); ++k)
      p.positions.push_back((b * 37 + k * 11) % 1000);
    p.global_size = static_cast<int64_t>(p.positions.size()) + 1;
    return p;
  };
  for (int threads : {1, 2, 5}) {
    for (int ahead : {1, 3}) {
      hpa::data::LoaderOptions options;
      options.threads = threads;
      options.batches_ahead = ahead;
      hpa::data::BatchLoader loader(samples, 9, plan, 4, options);
      hpa::data::Batch batch;
      std::vector<hpa::data::Batch> kept;  // batches the consumer still holds must never be reused
      while (loader.next(batch)) kept.push_back(batch);
      int64_t count = 0;
      for (const hpa::data::Batch& batch : kept) {
        const hpa::data::BatchPlan expected = plan(count);
        ASSERT_EQ(batch.images.size(0), static_cast<int64_t>(expected.positions.size()));
        EXPECT_EQ(batch.global_size, expected.global_size);
        for (size_t k = 0; k < expected.positions.size(); ++k) {
          EXPECT_EQ(batch.labels[static_cast<int64_t>(k)].item<int64_t>(), expected.positions[k] % 7);
          EXPECT_FLOAT_EQ(batch.images[static_cast<int64_t>(k)][1][2][0].item<float>(),
                          static_cast<float>(expected.positions[k] * 10 + 5) + 0.5f);
        }
        ++count;
      }
      EXPECT_EQ(count, 9) << threads << " threads";
    }
  }
}

TEST(Data, LoaderRethrowsAWorkersError) {
  const CountingSamples samples(/*fail_at=*/12);
  hpa::data::LoaderOptions options;
  options.threads = 3;
  hpa::data::BatchLoader loader(
      samples, 4,
      [](int64_t b) {
        hpa::data::BatchPlan p{{b * 10, b * 10 + 1, b * 10 + 2}, 3};
        return p;
      },
      0, options);
  hpa::data::Batch batch;
  EXPECT_TRUE(loader.next(batch));
  try {
    loader.next(batch);
    FAIL() << "no error";
  } catch (const hpa::Error& error) {
    EXPECT_NE(std::string(error.what()).find("bad sample 12"), std::string::npos);
  }
}

// A sample that is still being written when a worker fails on a later batch: sample `hold` waits
// until sample `fail_at` has failed, then a little longer, so that the failure is recorded first.
class LateSamples : public CountingSamples {
 public:
  LateSamples(int64_t fail_at, int64_t hold) : CountingSamples(-1), fail_at_(fail_at), hold_(hold) {}
  void write_sample(int64_t position, uint64_t epoch, float* out) const override {
    if (position == fail_at_) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        failed_ = true;
      }
      failed_cv_.notify_all();
      HPA_FAIL("bad sample " << position);
    }
    if (position == hold_) {
      std::unique_lock<std::mutex> lock(mutex_);
      failed_cv_.wait(lock, [&] { return failed_; });
      // Only makes the old defect likely to show; the loader must be right for any delay.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CountingSamples::write_sample(position, epoch, out);
  }

 private:
  int64_t fail_at_, hold_;
  mutable std::mutex mutex_;
  mutable std::condition_variable failed_cv_;
  mutable bool failed_ = false;
};

TEST(Data, LoaderFinishesTheBatchBeingFilledWhenALaterBatchFails) {
  const LateSamples samples(/*fail_at=*/12, /*hold=*/2);
  hpa::data::LoaderOptions options;
  options.threads = 3;  // one holds sample 2, the other two reach sample 12
  options.batches_ahead = 2;
  hpa::data::BatchLoader loader(
      samples, 4, [](int64_t b) { return hpa::data::BatchPlan{{b * 10, b * 10 + 1, b * 10 + 2}, 3}; }, 0,
      options);
  hpa::data::Batch batch;
  ASSERT_TRUE(loader.next(batch));
  EXPECT_FLOAT_EQ(batch.images[2][0][0][0].item<float>(), 20.0f);
  EXPECT_THROW(loader.next(batch), hpa::Error);
}

TEST(Data, LoaderErrorInTheBatchBeingFilledNeitherHangsNorHidesIt) {
  const CountingSamples samples(/*fail_at=*/1);
  hpa::data::LoaderOptions options;
  options.threads = 3;
  hpa::data::BatchLoader loader(
      samples, 4, [](int64_t b) { return hpa::data::BatchPlan{{b * 10, b * 10 + 1, b * 10 + 2}, 3}; }, 0,
      options);
  hpa::data::Batch batch;
  EXPECT_THROW(loader.next(batch), hpa::Error);
}

}  // namespace

namespace {

TEST_F(IdxFiles, CifarBinaryFormatAndItsDefects) {
  const auto record = [](uint8_t label, uint8_t fill) {
    std::string bytes(1, static_cast<char>(label));
    bytes += std::string(3072, static_cast<char>(fill));
    return bytes;
  };
  for (int i = 1; i <= 5; ++i)
    write_raw("data_batch_" + std::to_string(i) + ".bin", record(i, i) + record(9, 200));
  write_raw("test_batch.bin", record(3, 7));
  const auto dataset = hpa::data::load_cifar_dataset("cifar10", dir_.string());
  const hpa::data::ImageSet& train = dataset->set(hpa::data::Part::train);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{10, 3, 32, 32}));
  EXPECT_EQ(train.labels[2].item<int64_t>(), 2);
  EXPECT_EQ(train.images[3][2][31][31].item<uint8_t>(), 200);
  EXPECT_EQ(dataset->num_classes(), 10);
  const auto error_of_load = [&] {
    try {
      hpa::data::load_dataset("cifar10", dir_.string(), {});
    } catch (const hpa::Error& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  write_raw("test_batch.bin", record(3, 7).substr(0, 3000));
  EXPECT_NE(error_of_load().find("test_batch.bin"), std::string::npos);
  write_raw("test_batch.bin", record(10, 7));
  EXPECT_NE(error_of_load().find("label 10"), std::string::npos) << error_of_load();
  fs::remove(dir_ / "data_batch_4.bin");
  EXPECT_NE(error_of_load().find("data_batch_4.bin"), std::string::npos);
  // CIFAR-100: coarse then fine label; the fine one is used.
  write_raw("train.bin", "\x03" + record(42, 1));
  write_raw("test.bin", "\x01" + record(99, 1));
  const auto hundred = hpa::data::load_cifar_dataset("cifar100", dir_.string());
  EXPECT_EQ(hundred->set(hpa::data::Part::train).labels[0].item<int64_t>(), 42);
  EXPECT_EQ(hundred->num_classes(), 100);
}

}  // namespace
