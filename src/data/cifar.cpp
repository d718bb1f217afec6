// CIFAR-10 and CIFAR-100 in their official binary versions: records of label byte(s) followed by a
// 32x32 image, channel-planar RGB. CIFAR-10: data_batch_{1..5}.bin and test_batch.bin with one
// label byte; CIFAR-100: train.bin and test.bin with coarse and fine label bytes (fine is used).
#include "common/error.hpp"
#include "data/memory_dataset.hpp"

#include <ATen/Functions.h>

#include <filesystem>
#include <fstream>

namespace hpa::data {
namespace {

constexpr int64_t kImageBytes = 3 * 32 * 32;

ImageSet read_cifar_files(const std::vector<std::string>& paths, int64_t label_bytes, int64_t num_classes) {
  const int64_t record = label_bytes + kImageBytes;
  int64_t total = 0;
  for (const std::string& path : paths) {
    if (!std::filesystem::exists(path)) HPA_FAIL(path << ": missing (CIFAR binary version expected)");
    const auto size = static_cast<int64_t>(std::filesystem::file_size(path));
    if (size == 0 || size % record != 0)
      HPA_FAIL(path << ": " << size << " bytes is not a whole number of " << record
                    << "-byte CIFAR records (truncated?)");
    total += size / record;
  }
  ImageSet set;
  set.files = paths;
  set.images = at::empty({total, 3, 32, 32}, at::TensorOptions().dtype(at::kByte));
  set.labels = at::empty({total}, at::TensorOptions().dtype(at::kLong));
  uint8_t* images = set.images.data_ptr<uint8_t>();
  int64_t* labels = set.labels.data_ptr<int64_t>();
  std::vector<char> buffer;
  int64_t index = 0;
  for (const std::string& path : paths) {
    std::ifstream file(path, std::ios::binary);
    const auto size = static_cast<int64_t>(std::filesystem::file_size(path));
    buffer.resize(static_cast<size_t>(size));
    if (!file.read(buffer.data(), size)) HPA_FAIL(path << ": read failed");
    for (int64_t offset = 0; offset < size; offset += record, ++index) {
      const auto label = static_cast<uint8_t>(buffer[static_cast<size_t>(offset + label_bytes - 1)]);
      if (label >= num_classes)
        HPA_FAIL(path << ": record " << offset / record << " has label " << int(label) << ", outside 0.."
                      << num_classes - 1);
      labels[index] = label;
      std::memcpy(images + index * kImageBytes, buffer.data() + offset + label_bytes, kImageBytes);
    }
  }
  return set;
}

}  // namespace

std::unique_ptr<InMemoryDataset> load_cifar_dataset(const std::string& name, const std::string& dir) {
  HPA_REQUIRE(std::filesystem::is_directory(dir), "--data-dir " << dir << ": no such directory");
  namespace fs = std::filesystem;
  const auto in_dir = [&](const std::string& file) { return (fs::path(dir) / file).string(); };
  // Training files first, then the test file: errors name the first bad file in that order.
  if (name == "cifar10") {
    std::vector<std::string> paths;
    for (int i = 1; i <= 5; ++i) paths.push_back(in_dir("data_batch_" + std::to_string(i) + ".bin"));
    ImageSet train = read_cifar_files(paths, 1, 10);
    return std::make_unique<InMemoryDataset>(name, 10, std::move(train),
                                             read_cifar_files({in_dir("test_batch.bin")}, 1, 10));
  }
  ImageSet train = read_cifar_files({in_dir("train.bin")}, 2, 100);
  return std::make_unique<InMemoryDataset>(name, 100, std::move(train),
                                           read_cifar_files({in_dir("test.bin")}, 2, 100));
}

}  // namespace hpa::data
