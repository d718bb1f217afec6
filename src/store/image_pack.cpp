// Writing and reading image packs; see image_pack.hpp and docs/image-pack-format.md.
#include "store/image_pack.hpp"

#include "common/error.hpp"
#include "store/atomic_file.hpp"
#include "store/h5.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hpa::store {
namespace {

// Bytes per HDF5 chunk of `data`: at most 16 MiB, large enough that the chunk index stays small
// (about 9,000 chunks for ImageNet's 140 GB); smaller packs get chunks of about an eighth of their
// size (at least 64 KiB), since HDF5 allocates the last chunk whole.
hsize_t chunk_bytes_for(uint64_t expected_bytes) {
  const hsize_t largest = hsize_t{16} << 20, smallest = hsize_t{64} << 10;
  if (expected_bytes == 0) return largest;
  return std::clamp<hsize_t>(expected_bytes / 8, smallest, largest);
}

herr_t collect_attribute(hid_t loc, const char* name, const H5A_info_t*, void* data) {
  auto* attributes = static_cast<PackAttributes*>(data);
  h5::Handle attribute(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  if (attribute.get() < 0) return -1;
  h5::Handle type(H5Aget_type(attribute.get()), H5Tclose);
  if (H5Tget_class(type.get()) == H5T_STRING)
    attributes->strings[name] = h5::read_attr_string(loc, name, name);
  else if (H5Tget_class(type.get()) == H5T_INTEGER)
    attributes->integers[name] = h5::read_attr_int(loc, name, name);
  return 0;
}

// One element of a one-dimensional dataset, as `memory_type`.
void read_element(hid_t file, const std::string& name, const std::string& path, hsize_t index,
                  hid_t memory_type, void* out) {
  h5::Handle dataset = h5::open_dataset(file, name, path);
  h5::Handle space(HPA_H5_CHECK(H5Dget_space(dataset.get()), path), H5Sclose);
  const hsize_t count = 1;
  HPA_H5_CHECK(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &index, nullptr, &count, nullptr), path);
  h5::Handle memory = h5::make_space({1});
  HPA_H5_CHECK(H5Dread(dataset.get(), memory_type, memory.get(), space.get(), H5P_DEFAULT, out),
               path + ": " + name);
}

void pread_all(int fd, uint8_t* out, size_t count, uint64_t address, const std::string& path) {
  while (count > 0) {
    const ssize_t got = ::pread(fd, out, count, static_cast<off_t>(address));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      HPA_FAIL(path << ": cannot read " << count << " bytes at " << address << ": "
                    << (got < 0 ? std::strerror(errno) : "the file ends there"));
    out += got;
    count -= static_cast<size_t>(got);
    address += static_cast<uint64_t>(got);
  }
}

}  // namespace

struct ImagePackWriter::Files {
  h5::Handle file, data;
};

ImagePackWriter::ImagePackWriter(std::string path, uint64_t expected_bytes)
    : files_(std::make_unique<Files>()), path_(std::move(path)), temporary_(temporary_path_for(path_)) {
  h5::silence_hdf5_errors();        // failures become one-line errors, not printed HDF5 stacks
  std::remove(temporary_.c_str());  // a killed earlier writer's leftover
  files_->file = h5::create_file(temporary_);
  h5::Handle dcpl = h5::make_plist(H5P_DATASET_CREATE);
  const hsize_t chunk = chunk_bytes_for(expected_bytes);
  HPA_H5_CHECK(H5Pset_chunk(dcpl.get(), 1, &chunk), temporary_);
  HPA_H5_CHECK(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), temporary_);  // every byte is written once
  const hsize_t initial = 0, unlimited = H5S_UNLIMITED;
  h5::Handle space(HPA_H5_CHECK(H5Screate_simple(1, &initial, &unlimited), temporary_), H5Sclose);
  files_->data = h5::create_dataset(files_->file.get(), "data", H5T_STD_U8LE, space.get(), dcpl.get());
  chunk_.resize(chunk);
}

ImagePackWriter::~ImagePackWriter() {
  if (committed_) return;
  files_.reset();
  std::remove(temporary_.c_str());
}

void ImagePackWriter::append(const PackedImage& image, const uint8_t* bytes, size_t size) {
  HPA_INTERNAL_CHECK(size > 0 && size <= UINT32_MAX, "image of " << size << " bytes");
  offsets_.push_back(num_bytes());
  images_.push_back(image);
  images_.back().path.shrink_to_fit();
  lengths_.push_back(static_cast<uint32_t>(size));
  while (size > 0) {  // whole chunks go to HDF5 at once: no chunk is ever read back or rewritten
    const size_t take = std::min(size, chunk_.size() - buffered_);
    std::memcpy(chunk_.data() + buffered_, bytes, take);
    buffered_ += take;
    bytes += take;
    size -= take;
    if (buffered_ == chunk_.size()) flush_chunk();
  }
}

void ImagePackWriter::flush_chunk() {
  if (buffered_ == 0) return;
  const hsize_t start = bytes_written_, count = buffered_, new_size = bytes_written_ + buffered_;
  HPA_H5_CHECK(H5Dset_extent(files_->data.get(), &new_size), temporary_);
  h5::Handle file_space(HPA_H5_CHECK(H5Dget_space(files_->data.get()), temporary_), H5Sclose);
  HPA_H5_CHECK(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr),
               temporary_);
  h5::Handle memory = h5::make_space({count});
  HPA_H5_CHECK(H5Dwrite(files_->data.get(), H5T_NATIVE_UINT8, memory.get(), file_space.get(), H5P_DEFAULT,
                        chunk_.data()),
               temporary_);
  bytes_written_ += buffered_;
  buffered_ = 0;
}

void ImagePackWriter::record_skipped(const std::string& path, const std::string& reason) {
  skipped_paths_.push_back(path);
  skipped_reasons_.push_back(reason);
}

void ImagePackWriter::commit(const std::vector<std::string>& classes, const PackAttributes& attributes) {
  flush_chunk();
  const hid_t file = files_->file.get();
  const size_t n = images_.size();
  std::vector<int32_t> labels(n), heights(n), widths(n);
  std::vector<uint8_t> formats(n), components(n);
  std::vector<std::string> paths(n);
  for (size_t i = 0; i < n; ++i) {
    labels[i] = static_cast<int32_t>(images_[i].label);
    heights[i] = images_[i].height;
    widths[i] = images_[i].width;
    formats[i] = images_[i].format;
    components[i] = images_[i].components;
    paths[i] = std::move(images_[i].path);
  }
  h5::write_array(file, "offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64, offsets_.data(), n);
  h5::write_array(file, "lengths", H5T_STD_U32LE, H5T_NATIVE_UINT32, lengths_.data(), n);
  h5::write_array(file, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, labels.data(), n);
  h5::write_array(file, "heights", H5T_STD_I32LE, H5T_NATIVE_INT32, heights.data(), n);
  h5::write_array(file, "widths", H5T_STD_I32LE, H5T_NATIVE_INT32, widths.data(), n);
  h5::write_array(file, "formats", H5T_STD_U8LE, H5T_NATIVE_UINT8, formats.data(), n);
  h5::write_array(file, "components", H5T_STD_U8LE, H5T_NATIVE_UINT8, components.data(), n);
  h5::write_strings(file, "paths", paths);
  h5::write_strings(file, "classes", classes);
  h5::write_strings(file, "skipped/paths", skipped_paths_);
  h5::write_strings(file, "skipped/reasons", skipped_reasons_);
  h5::write_attr_int(file, "schema_version", kImagePackVersion);
  h5::write_attr_int(file, "num_images", static_cast<int64_t>(n));
  h5::write_attr_int(file, "num_bytes", static_cast<int64_t>(bytes_written_));
  h5::write_attr_int(file, "num_classes", static_cast<int64_t>(classes.size()));
  h5::write_attr_int(file, "num_skipped", static_cast<int64_t>(skipped_paths_.size()));
  for (const auto& [name, value] : attributes.strings) h5::write_attr_string(file, name, value);
  for (const auto& [name, value] : attributes.integers) h5::write_attr_int(file, name, value);
  files_->data.close_checked(temporary_);
  files_->file.close_checked(temporary_);
  commit_file(temporary_, path_);
  committed_ = true;
}

std::shared_ptr<const ImagePack> ImagePack::open(const std::string& path) {
  h5::silence_hdf5_errors();  // failures become one-line errors, not printed HDF5 stacks
  std::shared_ptr<ImagePack> pack(new ImagePack);
  pack->path_ = path;
  h5::Handle file = h5::open_file(path, /*writable=*/false);
  h5::require_schema_version(file.get(), path, "image pack", kImagePackVersion, kImagePackVersion);
  pack->classes_ = h5::read_strings(file.get(), "classes", path);
  h5::read_array(file.get(), "offsets", path, H5T_NATIVE_UINT64, pack->offsets_);
  h5::read_array(file.get(), "lengths", path, H5T_NATIVE_UINT32, pack->lengths_);
  h5::read_array(file.get(), "labels", path, H5T_NATIVE_INT64, pack->labels_);
  const size_t n = pack->offsets_.size();
  HPA_REQUIRE(pack->lengths_.size() == n && pack->labels_.size() == n,
              path << ": offsets, lengths and labels differ in length (" << n << ", " << pack->lengths_.size()
                   << ", " << pack->labels_.size() << ")");
  HPA_REQUIRE(!pack->classes_.empty(), path << ": the pack names no classes");

  h5::Handle data = h5::open_dataset(file.get(), "data", path);
  pack->data_bytes_ = h5::vector_length(data.get(), "data", path);
  const int64_t num_classes = static_cast<int64_t>(pack->classes_.size());
  for (size_t i = 0; i < n; ++i) {
    HPA_REQUIRE(pack->lengths_[i] > 0, path << ": sample " << i << " has length 0");
    HPA_REQUIRE(
        pack->offsets_[i] <= pack->data_bytes_ && pack->lengths_[i] <= pack->data_bytes_ - pack->offsets_[i],
        path << ": sample " << i << " at offset " << pack->offsets_[i] << " with length " << pack->lengths_[i]
             << " lies past the end of the data (" << pack->data_bytes_ << " bytes)");
    HPA_REQUIRE(
        pack->labels_[i] >= 0 && pack->labels_[i] < num_classes,
        path << ": sample " << i << " has label " << pack->labels_[i] << " outside 0.." << num_classes - 1);
  }

  // The file addresses of the data, so that reads bypass the library.
  h5::Handle dcpl(HPA_H5_CHECK(H5Dget_create_plist(data.get()), path), H5Pclose);
  HPA_REQUIRE(H5Pget_nfilters(dcpl.get()) == 0,
              path << ": its image data is compressed or filtered by HDF5, which hpa cannot read by offset "
                      "(repack it without filters: h5repack -f NONE)");
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout == H5D_CONTIGUOUS) {
    pack->chunk_bytes_ = std::max<uint64_t>(1, pack->data_bytes_);
    pack->chunk_addresses_ = {H5Dget_offset(data.get())};
  } else if (layout == H5D_CHUNKED) {
    hsize_t chunk = 0;
    HPA_H5_CHECK(H5Pget_chunk(dcpl.get(), 1, &chunk), path);
    pack->chunk_bytes_ = chunk;
    for (hsize_t start = 0; start < pack->data_bytes_; start += chunk) {
      unsigned filter_mask = 0;
      haddr_t address = HADDR_UNDEF;
      hsize_t stored = 0;
      HPA_H5_CHECK(H5Dget_chunk_info_by_coord(data.get(), &start, &filter_mask, &address, &stored), path);
      HPA_REQUIRE(address != HADDR_UNDEF,
                  path << ": the image data has an unwritten chunk at byte " << start);
      pack->chunk_addresses_.push_back(address);
    }
  } else {
    HPA_FAIL(path << ": the image data has an unsupported HDF5 layout (compact or virtual)");
  }
  if (pack->data_bytes_ > 0)
    HPA_REQUIRE(pack->chunk_addresses_.front() != HADDR_UNDEF, path << ": the image data was never written");
  pack->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  HPA_REQUIRE(pack->fd_ >= 0, path << ": cannot open: " << std::strerror(errno));

  // One sample read both ways: raw addresses that do not match HDF5's view (a user block, say)
  // would otherwise feed wrong bytes to the decoder.
  if (n > 0) {
    std::vector<uint8_t> raw, library(pack->lengths_[0]);
    pack->read(0, raw);
    h5::Handle space(HPA_H5_CHECK(H5Dget_space(data.get()), path), H5Sclose);
    const hsize_t start = pack->offsets_[0], count = pack->lengths_[0];
    HPA_H5_CHECK(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr), path);
    h5::Handle memory = h5::make_space({count});
    HPA_H5_CHECK(
        H5Dread(data.get(), H5T_NATIVE_UINT8, memory.get(), space.get(), H5P_DEFAULT, library.data()), path);
    HPA_REQUIRE(raw == library, path << ": the image data is not where its HDF5 layout says (a user block?)");
  }
  return pack;
}

ImagePack::~ImagePack() {
  if (fd_ >= 0) ::close(fd_);
}

void ImagePack::read(int64_t index, std::vector<uint8_t>& bytes) const {
  HPA_INTERNAL_CHECK(index >= 0 && index < size(), "pack sample " << index << " of " << size());
  uint64_t position = offsets_[static_cast<size_t>(index)];
  size_t remaining = lengths_[static_cast<size_t>(index)];
  bytes.resize(remaining);
  uint8_t* out = bytes.data();
  while (remaining > 0) {  // a sample may straddle chunks, which need not be adjacent in the file
    const uint64_t chunk = position / chunk_bytes_, within = position % chunk_bytes_;
    const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, chunk_bytes_ - within));
    pread_all(fd_, out, take, chunk_addresses_[static_cast<size_t>(chunk)] + within, path_);
    out += take;
    position += take;
    remaining -= take;
  }
}

PackedImage ImagePack::describe(int64_t index) const {
  HPA_REQUIRE(index >= 0 && index < size(),
              path_ << ": sample index " << index << " is out of range (the pack holds " << size() << ")");
  h5::Handle file = h5::open_file(path_, /*writable=*/false);
  const hsize_t at = static_cast<hsize_t>(index);
  PackedImage image;
  image.label = labels_[static_cast<size_t>(index)];
  read_element(file.get(), "heights", path_, at, H5T_NATIVE_INT32, &image.height);
  read_element(file.get(), "widths", path_, at, H5T_NATIVE_INT32, &image.width);
  read_element(file.get(), "formats", path_, at, H5T_NATIVE_UINT8, &image.format);
  read_element(file.get(), "components", path_, at, H5T_NATIVE_UINT8, &image.components);
  h5::Handle type(HPA_H5_CHECK(H5Tcopy(H5T_C_S1), path_), H5Tclose);
  HPA_H5_CHECK(H5Tset_size(type.get(), H5T_VARIABLE), path_);
  HPA_H5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8), path_);
  char* text = nullptr;
  read_element(file.get(), "paths", path_, at, type.get(), &text);
  image.path = text ? text : "";
  H5free_memory(text);
  return image;
}

PackAttributes ImagePack::attributes() const {
  h5::Handle file = h5::open_file(path_, /*writable=*/false);
  PackAttributes attributes;
  hsize_t position = 0;
  HPA_H5_CHECK(H5Aiterate2(file.get(), H5_INDEX_NAME, H5_ITER_INC, &position, collect_attribute, &attributes),
               path_);
  return attributes;
}

}  // namespace hpa::store
