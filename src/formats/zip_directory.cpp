// The sizes in a zip archive's central directory, checked before LibTorch's reader (miniz) trusts
// them: PyTorchStreamReader::getRecord allocates the uncompressed size the directory claims before
// it reads a byte (LibTorch 1.13; a 1.2 GB allocation from a 9 kB file, found by fuzzing).
#include "formats/torch_archive.hpp"

#include "common/error.hpp"

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace hpa::formats {
namespace {

constexpr uint32_t kEndOfDirectory = 0x06054b50, kZip64Locator = 0x07064b50, kZip64End = 0x06064b50,
                   kDirectoryEntry = 0x02014b50;
constexpr uint64_t kDeflateMaxRatio = 1032;  // deflate's largest expansion

uint64_t le(const uint8_t* p, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

class ArchiveFile {
 public:
  explicit ArchiveFile(const std::string& path) : path_(path), in_(path, std::ios::binary | std::ios::ate) {
    if (!in_) HPA_FAIL(path << ": cannot open for reading");
    size_ = static_cast<uint64_t>(in_.tellg());
  }
  uint64_t size() const { return size_; }
  // `count` bytes at `offset`, which must lie inside the file.
  std::vector<uint8_t> read(uint64_t offset, uint64_t count, const char* what) {
    if (offset > size_ || count > size_ - offset) fail(std::string(what) + " lies past the end of the file");
    std::vector<uint8_t> bytes(count);
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(count));
    if (!in_) fail(std::string("cannot read its ") + what);
    return bytes;
  }
  [[noreturn]] void fail(const std::string& problem) const {
    HPA_FAIL(path_ << ": unreadable PyTorch zip archive (truncated or corrupt?): " << problem);
  }

 private:
  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0;
};

struct Directory {
  uint64_t entries = 0, size = 0, offset = 0;
};

// The end-of-central-directory record (the last one in the final 64 kB), and its zip64 form when
// the 32-bit fields are saturated.
Directory find_directory(ArchiveFile& file) {
  const uint64_t tail_size = std::min<uint64_t>(file.size(), 22 + 0xffff);
  const uint64_t tail_offset = file.size() - tail_size;
  const std::vector<uint8_t> tail = file.read(tail_offset, tail_size, "end");
  if (tail_size < 22) file.fail("shorter than a zip end record");
  uint64_t at = tail_size - 22;
  while (le(&tail[at], 4) != kEndOfDirectory) {
    if (at == 0) file.fail("no end of central directory");
    --at;
  }
  Directory directory{le(&tail[at + 10], 2), le(&tail[at + 12], 4), le(&tail[at + 16], 4)};
  if (directory.entries != 0xffff && directory.size != 0xffffffff && directory.offset != 0xffffffff)
    return directory;
  if (at < 20 || le(&tail[at - 20], 4) != kZip64Locator) file.fail("zip64 fields without a zip64 locator");
  const std::vector<uint8_t> end64 = file.read(le(&tail[at - 20 + 8], 8), 56, "zip64 end record");
  if (le(end64.data(), 4) != kZip64End) file.fail("bad zip64 end record");
  return {le(&end64[32], 8), le(&end64[40], 8), le(&end64[48], 8)};
}

}  // namespace

void check_zip_record_sizes(const std::string& path) {
  ArchiveFile file(path);
  const Directory directory = find_directory(file);
  const std::vector<uint8_t> entries = file.read(directory.offset, directory.size, "central directory");
  size_t at = 0;
  for (uint64_t i = 0; i < directory.entries; ++i) {
    if (entries.size() - at < 46 || le(&entries[at], 4) != kDirectoryEntry)
      file.fail("central directory entry " + std::to_string(i) + " is damaged");
    const uint64_t method = le(&entries[at + 10], 2), name_size = le(&entries[at + 28], 2),
                   extra_size = le(&entries[at + 30], 2), comment_size = le(&entries[at + 32], 2);
    uint64_t compressed = le(&entries[at + 20], 4), uncompressed = le(&entries[at + 24], 4);
    if (entries.size() - at - 46 < name_size + extra_size + comment_size)
      file.fail("central directory entry " + std::to_string(i) + " is cut short");
    const std::string name(reinterpret_cast<const char*>(&entries[at + 46]), name_size);
    // Saturated sizes live in the zip64 extra field (id 1), uncompressed first.
    for (size_t x = at + 46 + name_size; x + 4 <= at + 46 + name_size + extra_size;) {
      const uint64_t id = le(&entries[x], 2), length = le(&entries[x + 2], 2);
      if (x + 4 + length > at + 46 + name_size + extra_size) file.fail("record '" + name + "': damaged extra field");
      if (id == 1) {
        size_t field = x + 4;
        for (uint64_t* size : {&uncompressed, &compressed}) {
          if (*size != 0xffffffff) continue;
          if (field + 8 > x + 4 + length) file.fail("record '" + name + "': zip64 field cut short");
          *size = le(&entries[field], 8);
          field += 8;
        }
      }
      x += 4 + length;
    }
    // A stored record holds its bytes in the file; a deflated one expands at most 1032 times.
    const uint64_t limit = method == 0 ? file.size() : std::min(compressed, file.size()) * kDeflateMaxRatio;
    if (compressed > file.size() || uncompressed > limit)
      file.fail("record '" + name + "' claims " + std::to_string(uncompressed) + " bytes, more than the " +
                std::to_string(file.size()) + "-byte file can hold");
    at += 46 + name_size + extra_size + comment_size;
  }
}

}  // namespace hpa::formats
