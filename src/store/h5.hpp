// A small RAII layer over the HDF5 C API: one owning handle type, checked calls whose errors carry
// file:line, the call and HDF5's own message, and typed helpers for the datasets and attributes
// hpa writes. Internal to src/store: no header outside this folder includes it.
#pragma once

#include "comm/native_fwd.hpp"
#include "common/process.hpp"

#include <ATen/core/Tensor.h>
#include <hdf5.h>

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace hpa::store::h5 {

[[noreturn]] void throw_h5_error(const char* call, const char* file, int line, const std::string& context);

#define HPA_H5_CHECK(call, context)                                                                 \
  ([&]() {                                                                                          \
    auto hpa_h5_result_ = (call);                                                                   \
    if (hpa_h5_result_ < 0) ::hpa::store::h5::throw_h5_error(#call, __FILE__, __LINE__, (context)); \
    return hpa_h5_result_;                                                                          \
  }())

// Owns one hid_t and closes it with the right H5*close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = other.id_;
      closer_ = other.closer_;
      other.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  // While an exception unwinds towards the MPI_Abort of a multi-rank job, the handle is left open:
  // closing a file written through MPI-IO is collective and would wait for the other ranks forever.
  void reset() {
    if (id_ >= 0 && closer_ && !(std::uncaught_exceptions() > 0 && multi_rank_job())) closer_(id_);
    id_ = H5I_INVALID_HID;
  }
  // Closes now and checks the result (a file's close is where its last writes happen).
  void close_checked(const std::string& context);

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Silences HDF5's automatic error printing for the whole process; errors are thrown instead.
void silence_hdf5_errors();

Handle create_file(const std::string& path, hid_t fapl = H5P_DEFAULT);
Handle open_file(const std::string& path, bool writable, hid_t fapl = H5P_DEFAULT);
Handle make_plist(hid_t cls);
Handle make_space(const std::vector<hsize_t>& dims);  // empty dims: scalar
Handle create_dataset(hid_t loc, const std::string& name, hid_t type, hid_t space, hid_t dcpl = H5P_DEFAULT);
Handle open_dataset(hid_t loc, const std::string& name, const std::string& file_for_errors);
bool exists(hid_t loc, const std::string& path);  // every link on the path, no error stack
bool has_attr(hid_t loc, const std::string& name);

// Create the dataset (collective under MPI-IO: every rank calls) and, when `write_data`, write it.
void write_doubles(hid_t loc, const std::string& name, const std::vector<double>& values,
                   const std::vector<hsize_t>& dims, bool write_data = true);
// Creates a float32 dataset (collective: every rank of the file's communicator calls) and writes
// this rank's share: rows [rank * R / size, (rank + 1) * R / size) of its first dimension R, one
// contiguous byte range, so large tensors are written by all ranks together.
void write_floats_shared(hid_t loc, const std::string& name, const float* values, const std::vector<hsize_t>& dims,
                         int rank, int size);
// A file access property list for the MPI-IO driver on `comm` (an MPI_Comm*), or the default.
Handle file_access(const comm::NativeComm* comm);
std::vector<hsize_t> dataset_dims(hid_t dataset);

void write_attr_string(hid_t loc, const std::string& name, const std::string& value);
void write_attr_int(hid_t loc, const std::string& name, int64_t value);
void write_attr_double(hid_t loc, const std::string& name, double value);
void write_attr_ints(hid_t loc, const std::string& name, const std::vector<int64_t>& values);
std::string read_attr_string(hid_t loc, const std::string& name, const std::string& file_for_errors);
int64_t read_attr_int(hid_t loc, const std::string& name, const std::string& file_for_errors);
double read_attr_double(hid_t loc, const std::string& name, const std::string& file_for_errors);
std::vector<int64_t> read_attr_ints(hid_t loc, const std::string& name, const std::string& file_for_errors);

// Returns the `schema_version` attribute of `loc`; throws "PATH: WHAT format version V is not
// supported (this hpa reads versions ...)" unless oldest <= V <= newest.
int64_t require_schema_version(hid_t loc, const std::string& path, const char* what, int64_t oldest,
                               int64_t newest);

// One-dimensional datasets of `count` elements of `memory_type`, stored as `file_type`.
void write_array(hid_t loc, const std::string& name, hid_t file_type, hid_t memory_type, const void* data,
                 size_t count);
// Reads a whole one-dimensional dataset as `memory_type` into `out` (resized to its length).
template <typename T>
void read_array(hid_t loc, const std::string& name, const std::string& path, hid_t memory_type,
                std::vector<T>& out);
void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values);
std::vector<std::string> read_strings(hid_t loc, const std::string& name, const std::string& path);

// A whole dataset read as float32 / float64, in its own shape (tensor) or flattened (vector).
at::Tensor read_floats(hid_t loc, const std::string& name, const std::string& path);
std::vector<double> read_doubles(hid_t loc, const std::string& name, const std::string& path);

std::string library_version();

// The element count of a dataset, before anything is allocated for it: the product of its extents
// (overflow-checked), which the bytes the file stores for it must be able to hold (the extents of a
// damaged file can claim terabytes). Throws naming `path` and `name`.
size_t stored_elements(hid_t dataset, const std::string& name, const std::string& path);
// The element count of a one-dimensional dataset (checked as stored_elements); throws naming `path`
// for other ranks.
size_t vector_length(hid_t dataset, const std::string& name, const std::string& path);
void read_whole(hid_t dataset, hid_t memory_type, void* out, const std::string& context);

template <typename T>
void read_array(hid_t loc, const std::string& name, const std::string& path, hid_t memory_type,
                std::vector<T>& out) {
  Handle dataset = open_dataset(loc, name, path);
  out.resize(vector_length(dataset.get(), name, path));
  if (!out.empty()) read_whole(dataset.get(), memory_type, out.data(), path + ": " + name);
}

}  // namespace hpa::store::h5
