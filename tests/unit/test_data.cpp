// Data layer: IDX parsing (valid and every malformed case), splits, keyed randomness, rank shares
// and batch assembly.
#include "common/error.hpp"
#include "data/batches.hpp"
#include "data/dataset.hpp"
#include "data/idx.hpp"
#include "data/keyed_random.hpp"

#include <ATen/Functions.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <set>

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
    hpa::data::load_dataset("fashion-mnist", dir_.string());
    FAIL();
  } catch (const hpa::Error& error) {
    EXPECT_NE(std::string(error.what()).find("4 labels for 5 images"), std::string::npos) << error.what();
  }
  write_gz("train-labels-idx1-ubyte.gz", idx_bytes({5}));
  const hpa::data::Dataset dataset = hpa::data::load_dataset("mnist", dir_.string());
  EXPECT_EQ(dataset.train.images.sizes(), (std::vector<int64_t>{5, 1, 4, 4}));
  EXPECT_EQ(dataset.test.size(), 2);
  EXPECT_THROW(hpa::data::load_dataset("mnist", (dir_ / "nowhere").string()), hpa::Error);
  EXPECT_THROW(hpa::data::load_dataset("svhn", dir_.string()), hpa::Error);
  fs::remove(dir_ / "t10k-labels-idx1-ubyte");
  EXPECT_THROW(hpa::data::load_dataset("mnist", dir_.string()), hpa::Error);
}

hpa::data::ImageSet synthetic_set(int64_t n, int64_t classes) {
  hpa::data::ImageSet set;
  set.images = at::randint(0, 256, {n, 1, 6, 6}, at::TensorOptions().dtype(at::kByte));
  set.labels = at::arange(n, at::TensorOptions().dtype(at::kLong)).remainder(classes);
  return set;
}

TEST(Data, KeyedPermutationIsAPermutationAndDeterministic) {
  const auto a = hpa::data::keyed_permutation(1000, 3, 1, hpa::data::RandomStream::epoch_order);
  const auto b = hpa::data::keyed_permutation(1000, 3, 1, hpa::data::RandomStream::epoch_order);
  const auto c = hpa::data::keyed_permutation(1000, 3, 2, hpa::data::RandomStream::epoch_order);
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
  const hpa::data::ImageSet set = synthetic_set(1000, 10);
  const auto split = hpa::data::split_validation(set, 0.1, 5, false, 10);
  EXPECT_EQ(split.validation.size(), 100);
  EXPECT_EQ(split.train.size(), 900);
  const auto again = hpa::data::split_validation(set, 0.1, 5, false, 10);
  EXPECT_TRUE(at::equal(split.validation.images, again.validation.images));
  const auto stratified = hpa::data::split_validation(set, 0.1, 5, true, 10);
  EXPECT_TRUE(at::equal(at::bincount(stratified.validation.labels), at::full({10}, 10, at::kLong)));
  EXPECT_EQ(hpa::data::split_validation(set, 0.0, 5, false, 10).validation.size(), 0);
  EXPECT_THROW(hpa::data::split_validation(set, 1.0, 5, false, 10), hpa::Error);
}

TEST(Data, AssemblyNormalizesAndAugmentsPerSampleIndependentOfBatch) {
  const hpa::data::ImageSet set = synthetic_set(8, 2);
  const hpa::data::Normalization unit =
      hpa::data::Normalization::make(hpa::data::NormalizationKind::unit, set);
  const hpa::data::BatchAssembler plain(set, unit, {}, 1);
  const hpa::data::Batch batch = plain.assemble({3, 5}, 0);
  EXPECT_TRUE(at::allclose(batch.images[0], set.images[3].to(at::kFloat) / 255.0));
  EXPECT_EQ(batch.labels[1].item<int64_t>(), 1);

  hpa::data::Augmentation augmentation;
  augmentation.enabled = true;
  const hpa::data::BatchAssembler augmented(set, unit, augmentation, 1);
  // Sample 5's augmentation depends on (seed, epoch, 5) only, not on its batch neighbours.
  const at::Tensor alone = augmented.assemble({5}, 2).images[0];
  const at::Tensor in_batch = augmented.assemble({0, 5, 7}, 2).images[1];
  EXPECT_TRUE(at::equal(alone, in_batch));
  // Augmentation keeps the pixel multiset within the shifted window: values stay in [0, 1].
  EXPECT_LE(alone.max().item<float>(), 1.0f);
  EXPECT_GE(alone.min().item<float>(), 0.0f);
  // Across many epochs, some draws differ from the plain image.
  int differing = 0;
  for (uint64_t epoch = 1; epoch <= 20; ++epoch)
    differing +=
        at::equal(augmented.assemble({5}, epoch).images[0], plain.assemble({5}, epoch).images[0]) ? 0 : 1;
  EXPECT_GT(differing, 10);

  const hpa::data::Normalization dataset =
      hpa::data::Normalization::make(hpa::data::NormalizationKind::dataset, set);
  const at::Tensor all =
      hpa::data::BatchAssembler(set, dataset, {}, 1).assemble({0, 1, 2, 3, 4, 5, 6, 7}, 0).images;
  EXPECT_NEAR(all.mean().item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(all.std(/*unbiased=*/false).item<double>(), 1.0, 1e-4);
}

TEST(Data, PrefetcherDeliversInOrderAndRethrows) {
  const hpa::data::ImageSet set = synthetic_set(8, 2);
  const hpa::data::BatchAssembler assembler(
      set, hpa::data::Normalization::make(hpa::data::NormalizationKind::unit, set), {}, 1);
  hpa::data::Prefetcher prefetcher([&](int64_t i) { return assembler.assemble({i}, 0); }, 8);
  hpa::data::Batch batch;
  int64_t count = 0;
  while (prefetcher.next(batch)) EXPECT_EQ(batch.labels[0].item<int64_t>(), (count++) % 2);
  EXPECT_EQ(count, 8);
  hpa::data::Prefetcher failing(
      [&](int64_t i) -> hpa::data::Batch {
        if (i == 1) HPA_FAIL("bad batch");
        return assembler.assemble({i}, 0);
      },
      3);
  EXPECT_TRUE(failing.next(batch));
  EXPECT_THROW(failing.next(batch), hpa::Error);
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
  const hpa::data::Dataset dataset = hpa::data::load_dataset("cifar10", dir_.string());
  EXPECT_EQ(dataset.train.images.sizes(), (std::vector<int64_t>{10, 3, 32, 32}));
  EXPECT_EQ(dataset.train.labels[2].item<int64_t>(), 2);
  EXPECT_EQ(dataset.train.images[3][2][31][31].item<uint8_t>(), 200);
  EXPECT_EQ(dataset.num_classes, 10);
  const auto error_of_load = [&] {
    try {
      hpa::data::load_dataset("cifar10", dir_.string());
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
  const hpa::data::Dataset hundred = hpa::data::load_dataset("cifar100", dir_.string());
  EXPECT_EQ(hundred.train.labels[0].item<int64_t>(), 42);
  EXPECT_EQ(hundred.num_classes, 100);
}

}  // namespace
