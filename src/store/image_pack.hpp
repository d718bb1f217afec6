// The image pack of docs/image-pack-format.md: one HDF5 file with the encoded bytes of every image
// back to back in one uint8 dataset, per-sample offset, length, label, size, format and relative
// path, the class names and a format version. hpa-pack writes it (ImagePackWriter, one thread);
// training reads it (ImagePack): the small index through HDF5 once, then each sample's bytes by
// offset with pread from any thread, since the HDF5 library must not be entered from several
// threads. No image decoding here.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hpa::store {

inline constexpr int64_t kImagePackVersion = 1;

struct PackedImage {
  std::string path;  // relative to the packed folder
  int64_t label = 0;
  int32_t height = 0, width = 0;
  uint8_t format = 0;      // image::Format: 1 JPEG, 2 PNG
  uint8_t components = 0;  // as stored: 1 grey, 3 colour, 4 CMYK (PNG: with alpha)
};

// Attributes of the pack (strings and integers), e.g. source folder, max_side, counts.
struct PackAttributes {
  std::map<std::string, std::string> strings;
  std::map<std::string, int64_t> integers;
};

class ImagePackWriter {
 public:
  // Writes into `path`.tmp; nothing appears under `path` before commit(). `expected_bytes` (about
  // how many bytes will be appended, 0: unknown) sizes the HDF5 chunks, so a small pack is not
  // padded to a whole large chunk.
  explicit ImagePackWriter(std::string path, uint64_t expected_bytes = 0);
  ~ImagePackWriter();  // removes the temporary file unless committed
  ImagePackWriter(const ImagePackWriter&) = delete;
  ImagePackWriter& operator=(const ImagePackWriter&) = delete;

  void append(const PackedImage& image, const uint8_t* bytes, size_t size);
  void record_skipped(const std::string& path, const std::string& reason);  // --skip-bad
  int64_t num_images() const { return static_cast<int64_t>(images_.size()); }
  uint64_t num_bytes() const { return bytes_written_ + buffered_; }
  // Writes the index, closes, fsyncs and renames the file into place (replacing an older one).
  void commit(const std::vector<std::string>& classes, const PackAttributes& attributes);

 private:
  void flush_chunk();
  struct Files;
  std::unique_ptr<Files> files_;
  std::string path_, temporary_;
  std::vector<PackedImage> images_;
  std::vector<uint64_t> offsets_;
  std::vector<uint32_t> lengths_;
  std::vector<std::string> skipped_paths_, skipped_reasons_;
  std::vector<uint8_t> chunk_;
  size_t buffered_ = 0;
  uint64_t bytes_written_ = 0;
  bool committed_ = false;
};

class ImagePack {
 public:
  // Reads the index (main thread). Throws hpa::Error naming the file for another format version,
  // a damaged index (offsets past the end of the data, lengths, labels) or compressed data.
  static std::shared_ptr<const ImagePack> open(const std::string& path);
  ~ImagePack();

  const std::string& path() const { return path_; }
  int64_t size() const { return static_cast<int64_t>(offsets_.size()); }
  const std::vector<std::string>& classes() const { return classes_; }
  const std::vector<int64_t>& labels() const { return labels_; }
  uint64_t data_bytes() const { return data_bytes_; }
  // The encoded bytes of sample `index` (0 <= index < size()); thread-safe.
  void read(int64_t index, std::vector<uint8_t>& bytes) const;
  // Everything stored about sample `index`, read through HDF5: main thread only (tools, errors).
  PackedImage describe(int64_t index) const;
  PackAttributes attributes() const;  // main thread only

 private:
  ImagePack() = default;
  std::string path_;
  std::vector<std::string> classes_;
  std::vector<uint64_t> offsets_;
  std::vector<uint32_t> lengths_;
  std::vector<int64_t> labels_;
  uint64_t data_bytes_ = 0;
  // Where the bytes lie in the file: the data is one contiguous block or equal-sized chunks.
  uint64_t chunk_bytes_ = 0;
  std::vector<uint64_t> chunk_addresses_;
  int fd_ = -1;
};

}  // namespace hpa::store
