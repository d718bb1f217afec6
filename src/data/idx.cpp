// IDX through zlib's gz* API, which reads gzip and plain files alike.
#include "data/idx.hpp"

#include "common/checked.hpp"
#include "common/error.hpp"

#include <ATen/Functions.h>
#include <zlib.h>

#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

namespace hpa::data {
namespace {

struct GzCloser {
  void operator()(gzFile file) const { gzclose(file); }
};
using GzHandle = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

// Reads exactly `count` bytes or throws, telling truncation and corruption apart.
void read_exactly(gzFile file, const std::string& path, void* out, size_t count, const char* what) {
  auto* cursor = static_cast<unsigned char*>(out);
  size_t done = 0;
  while (done < count) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(count - done, 1u << 30));
    const int got = gzread(file, cursor + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      HPA_FAIL(path << ": corrupt compressed data while reading the " << what << " (" << message << ")");
    }
    if (got == 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      HPA_FAIL(path << ": truncated: the " << what << " needs " << count << " bytes, the file ends after "
                    << done
                    << (code != Z_OK && message && *message ? std::string(" (") + message + ")" : ""));
    }
    done += static_cast<size_t>(got);
  }
}

}  // namespace

at::Tensor read_idx_ubyte(const std::string& path, int expected_dims) {
  GzHandle file(gzopen(path.c_str(), "rb"));
  if (!file) HPA_FAIL(path << ": cannot open for reading");
  unsigned char magic[4];
  read_exactly(file.get(), path, magic, 4, "header");
  if (magic[0] != 0 || magic[1] != 0)
    HPA_FAIL(path << ": not an IDX file (magic bytes " << int(magic[0]) << " " << int(magic[1])
                  << ", expected 0 0)");
  if (magic[2] != 0x08)
    HPA_FAIL(path << ": IDX element type 0x" << std::hex << int(magic[2]) << " is not unsigned byte (0x08)");
  if (magic[3] != expected_dims)
    HPA_FAIL(path << ": IDX file has " << int(magic[3]) << " dimensions, expected " << expected_dims);

  std::vector<int64_t> shape(static_cast<size_t>(expected_dims));
  uint64_t total = 1;
  for (int64_t& extent : shape) {
    unsigned char bytes[4];
    read_exactly(file.get(), path, bytes, 4, "header");
    extent = (int64_t{bytes[0]} << 24) | (int64_t{bytes[1]} << 16) | (int64_t{bytes[2]} << 8) | bytes[3];
    if (extent == 0) HPA_FAIL(path << ": IDX dimension of size 0");
    if (!checked_mul(total, static_cast<uint64_t>(extent), &total) || total > (uint64_t{1} << 36))
      HPA_FAIL(path << ": IDX dimensions claim more than 64 GiB of data");
  }
  // Before allocating what the header claims: a plain file must hold it, and deflate cannot expand
  // data more than 1032-fold (zlib's documented limit), so a lying header costs no memory.
  std::error_code error;
  const uint64_t file_bytes = std::filesystem::file_size(path, error);
  const uint64_t header_bytes = 4 + 4 * static_cast<uint64_t>(expected_dims);
  if (!error && gzdirect(file.get()) && header_bytes + total > file_bytes)
    HPA_FAIL(path << ": truncated: the data needs " << total << " bytes, the file ends after "
                  << file_bytes - std::min(file_bytes, header_bytes));
  if (!error && !gzdirect(file.get()) && total / 1032 > file_bytes)
    HPA_FAIL(path << ": IDX header claims " << total << " data bytes, more than a " << file_bytes
                  << "-byte gzip file can hold (truncated or corrupt)");
  at::Tensor data = at::empty(shape, at::TensorOptions().dtype(at::kByte));
  read_exactly(file.get(), path, data.data_ptr<uint8_t>(), total, "data");
  unsigned char extra;
  const int trailing = gzread(file.get(), &extra, 1);
  if (trailing != 0) {
    int code = 0;
    const char* message = gzerror(file.get(), &code);
    if (trailing < 0) HPA_FAIL(path << ": corrupt compressed data after the payload (" << message << ")");
    HPA_FAIL(path << ": file is longer than its IDX header says (" << total << " data bytes expected)");
  }
  return data;
}

}  // namespace hpa::data
