// The records of a zip archive, checked before LibTorch's reader (miniz) trusts them. The sizes in
// the central directory: PyTorchStreamReader::getRecord allocates the uncompressed size the
// directory claims before it reads a byte (LibTorch 1.13; a 1.2 GB allocation from a 9 kB file,
// found by fuzzing). The CRC-32 of every record: LibTorch does not check them, and its TorchScript
// compiler crashes on some damaged source records (found by fuzzing), so a damaged file is refused
// here with its name instead.
#include "formats/torch_archive.hpp"

#include "common/error.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace hpa::formats {
namespace {

constexpr uint32_t kEndOfDirectory = 0x06054b50, kZip64Locator = 0x07064b50, kZip64End = 0x06064b50,
                   kDirectoryEntry = 0x02014b50, kLocalHeader = 0x04034b50;
constexpr uint64_t kChunk = uint64_t{1} << 20;  // bytes read (and inflated) at a time
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
    seek(offset, count, what);
    std::vector<uint8_t> bytes(count);
    in_.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(count));
    if (!in_) fail(std::string("cannot read its ") + what);
    return bytes;
  }
  // Calls `consume(data, size)` on the `count` bytes at `offset`, kChunk bytes at a time.
  template <typename Consume>
  void stream(uint64_t offset, uint64_t count, const std::string& what, Consume consume) {
    seek(offset, count, what);
    std::vector<char> chunk(static_cast<size_t>(std::min(count, kChunk)));
    for (uint64_t left = count; left > 0;) {
      const uint64_t n = std::min(left, kChunk);
      in_.read(chunk.data(), static_cast<std::streamsize>(n));
      if (!in_) fail("cannot read " + what);
      consume(reinterpret_cast<const uint8_t*>(chunk.data()), n);
      left -= n;
    }
  }
  [[noreturn]] void fail(const std::string& problem) const {
    HPA_FAIL(path_ << ": unreadable PyTorch zip archive (truncated or corrupt?): " << problem);
  }

 private:
  // Moves to `offset`, after checking that `count` bytes from there lie inside the file.
  void seek(uint64_t offset, uint64_t count, const std::string& what) {
    if (offset > size_ || count > size_ - offset) fail(what + " lies past the end of the file");
    in_.seekg(static_cast<std::streamoff>(offset));
  }

  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0;
};

struct Directory {
  uint64_t entries = 0, size = 0, offset = 0;
};

struct Record {
  std::string name;
  uint64_t method = 0, compressed = 0, uncompressed = 0, offset = 0;  // offset of its local header
  uint32_t crc = 0;
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

// Recomputes the record's CRC-32 from its bytes (stored) or from what they inflate to (deflated),
// which must also come to exactly the size the directory gives.
void check_record_crc(ArchiveFile& file, const Record& record) {
  const std::string what = "record '" + record.name + "'";
  const std::vector<uint8_t> local = file.read(record.offset, 30, (what + " header").c_str());
  if (le(local.data(), 4) != kLocalHeader) file.fail(what + ": no local header where the directory points");
  const uint64_t data = record.offset + 30 + le(&local[26], 2) + le(&local[28], 2);
  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t produced = 0;
  if (record.method == 0) {
    if (record.compressed != record.uncompressed) file.fail(what + ": stored with two different sizes");
    file.stream(data, record.compressed, what, [&](const uint8_t* bytes, uint64_t n) {
      crc = crc32(crc, bytes, static_cast<uInt>(n));
    });
    produced = record.compressed;
  } else if (record.method == 8) {
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) file.fail(what + ": cannot start inflating");
    struct End {
      z_stream* z;
      ~End() { inflateEnd(z); }
    } end{&z};
    std::vector<uint8_t> out(kChunk);
    int status = Z_OK;
    file.stream(data, record.compressed, what, [&](const uint8_t* bytes, uint64_t n) {
      z.next_in = const_cast<Bytef*>(bytes);
      z.avail_in = static_cast<uInt>(n);
      while (status != Z_STREAM_END) {
        z.next_out = out.data();
        z.avail_out = static_cast<uInt>(out.size());
        status = inflate(&z, Z_NO_FLUSH);
        if (status == Z_BUF_ERROR && z.avail_in == 0) {  // no progress: it needs the next chunk
          status = Z_OK;
          break;
        }
        if (status != Z_OK && status != Z_STREAM_END) file.fail(what + ": damaged deflate data");
        const uint64_t got = out.size() - z.avail_out;
        produced += got;
        if (produced > record.uncompressed) file.fail(what + " inflates to more than its stated size");
        crc = crc32(crc, out.data(), static_cast<uInt>(got));
        if (z.avail_in == 0 && z.avail_out != 0) break;  // input used up, no output pending
      }
    });
    if (status != Z_STREAM_END) file.fail(what + ": deflate data cut short");
  } else {
    file.fail(what + " uses compression method " + std::to_string(record.method) +
              " (only stored and deflated records are read)");
  }
  if (produced != record.uncompressed) file.fail(what + " holds fewer bytes than its stated size");
  if (crc != record.crc) file.fail(what + " fails its CRC-32 check (the file is damaged)");
}

}  // namespace

void check_zip_records(const std::string& path) {
  ArchiveFile file(path);
  const Directory directory = find_directory(file);
  const std::vector<uint8_t> entries = file.read(directory.offset, directory.size, "central directory");
  std::vector<Record> records;
  size_t at = 0;
  for (uint64_t i = 0; i < directory.entries; ++i) {
    if (entries.size() - at < 46 || le(&entries[at], 4) != kDirectoryEntry)
      file.fail("central directory entry " + std::to_string(i) + " is damaged");
    const uint64_t method = le(&entries[at + 10], 2), name_size = le(&entries[at + 28], 2),
                   extra_size = le(&entries[at + 30], 2), comment_size = le(&entries[at + 32], 2);
    uint64_t compressed = le(&entries[at + 20], 4), uncompressed = le(&entries[at + 24], 4),
             offset = le(&entries[at + 42], 4);
    if (entries.size() - at - 46 < name_size + extra_size + comment_size)
      file.fail("central directory entry " + std::to_string(i) + " is cut short");
    const std::string name(reinterpret_cast<const char*>(&entries[at + 46]), name_size);
    // Saturated fields live in the zip64 extra field (id 1): uncompressed, compressed, offset.
    for (size_t x = at + 46 + name_size; x + 4 <= at + 46 + name_size + extra_size;) {
      const uint64_t id = le(&entries[x], 2), length = le(&entries[x + 2], 2);
      if (x + 4 + length > at + 46 + name_size + extra_size) file.fail("record '" + name + "': damaged extra field");
      if (id == 1) {
        size_t field = x + 4;
        for (uint64_t* value : {&uncompressed, &compressed, &offset}) {
          if (*value != 0xffffffff) continue;
          if (field + 8 > x + 4 + length) file.fail("record '" + name + "': zip64 field cut short");
          *value = le(&entries[field], 8);
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
    records.push_back({name, method, compressed, uncompressed, offset, static_cast<uint32_t>(le(&entries[at + 16], 4))});
    at += 46 + name_size + extra_size + comment_size;
  }
  for (const Record& record : records) check_record_crc(file, record);
}

}  // namespace hpa::formats
