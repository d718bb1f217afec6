// HDF5 RAII helpers; see h5.hpp.
#include "store/h5.hpp"

#include "comm/native.hpp"
#include "common/checked.hpp"
#include "common/error.hpp"

#include <ATen/Functions.h>

#include <sstream>

namespace hpa::store::h5 {
namespace {

herr_t collect_message(unsigned depth, const H5E_error2_t* error, void* data) {
  auto* messages = static_cast<std::string*>(data);
  if (depth == 0 && error->desc) *messages = error->desc;  // the innermost error says the most
  if (messages->empty() && error->desc) *messages = error->desc;
  return 0;
}

std::string current_hdf5_message() {
  std::string message;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_message, &message);
  H5Eclear2(H5E_DEFAULT);
  return message.empty() ? "no HDF5 message" : message;
}

Handle string_type() {
  Handle type(HPA_H5_CHECK(H5Tcopy(H5T_C_S1), "string type"), H5Tclose);
  HPA_H5_CHECK(H5Tset_size(type.get(), H5T_VARIABLE), "string type");
  HPA_H5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8), "string type");
  return type;
}

Handle open_attr(hid_t loc, const std::string& name, const std::string& file_for_errors) {
  if (H5Aexists(loc, name.c_str()) <= 0)
    HPA_FAIL(file_for_errors << ": attribute '" << name << "' is missing");
  return Handle(HPA_H5_CHECK(H5Aopen(loc, name.c_str(), H5P_DEFAULT), file_for_errors), H5Aclose);
}

Handle create_attr(hid_t loc, const std::string& name, hid_t type, hid_t space) {
  if (H5Aexists(loc, name.c_str()) > 0) HPA_H5_CHECK(H5Adelete(loc, name.c_str()), name);
  return Handle(HPA_H5_CHECK(H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), name),
                H5Aclose);
}

}  // namespace

void throw_h5_error(const char* call, const char* file, int line, const std::string& context) {
  HPA_FAIL(context << ": HDF5 call failed (" << file << ":" << line << ", " << call
                   << "): " << current_hdf5_message());
}

void Handle::close_checked(const std::string& context) {
  if (id_ < 0) return;
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  if (closer_(id) < 0) throw_h5_error("close", __FILE__, __LINE__, context);
}

void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Handle create_file(const std::string& path, hid_t fapl) {
  silence_hdf5_errors();  // every failure becomes one error line, never a printed HDF5 stack
  return Handle(HPA_H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), path), H5Fclose);
}

Handle open_file(const std::string& path, bool writable, hid_t fapl) {
  silence_hdf5_errors();
  const hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
  if (id < 0) HPA_FAIL(path << ": cannot open as HDF5 (" << current_hdf5_message() << ")");
  return Handle(id, H5Fclose);
}

Handle make_plist(hid_t cls) { return Handle(HPA_H5_CHECK(H5Pcreate(cls), "property list"), H5Pclose); }

Handle make_space(const std::vector<hsize_t>& dims) {
  if (dims.empty()) return Handle(HPA_H5_CHECK(H5Screate(H5S_SCALAR), "dataspace"), H5Sclose);
  return Handle(
      HPA_H5_CHECK(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "dataspace"),
      H5Sclose);
}

Handle create_dataset(hid_t loc, const std::string& name, hid_t type, hid_t space, hid_t dcpl) {
  Handle lcpl = make_plist(H5P_LINK_CREATE);
  HPA_H5_CHECK(H5Pset_create_intermediate_group(lcpl.get(), 1), name);
  return Handle(HPA_H5_CHECK(H5Dcreate2(loc, name.c_str(), type, space, lcpl.get(), dcpl, H5P_DEFAULT), name),
                H5Dclose);
}

Handle open_dataset(hid_t loc, const std::string& name, const std::string& file_for_errors) {
  if (!exists(loc, name)) HPA_FAIL(file_for_errors << ": dataset '" << name << "' is missing");
  return Handle(HPA_H5_CHECK(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), file_for_errors), H5Dclose);
}

bool exists(hid_t loc, const std::string& path) {
  size_t position = 0;
  while (true) {
    position = path.find('/', position + 1);
    const std::string prefix = path.substr(0, position);
    if (!prefix.empty() && H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (position == std::string::npos) return true;
  }
}

void write_doubles(hid_t loc, const std::string& name, const std::vector<double>& values,
                   const std::vector<hsize_t>& dims, bool write_data) {
  Handle space = make_space(dims);
  Handle dataset = create_dataset(loc, name, H5T_IEEE_F64LE, space.get());
  if (write_data)
    HPA_H5_CHECK(H5Dwrite(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                 name);
}

void write_floats_shared(hid_t loc, const std::string& name, const float* values, const std::vector<hsize_t>& dims,
                         int rank, int size) {
  Handle space = make_space(dims);
  Handle dataset = create_dataset(loc, name, H5T_IEEE_F32LE, space.get());
  if (dims.empty()) {
    if (rank == 0) HPA_H5_CHECK(H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), name);
    return;
  }
  // Rank r writes rows [r * rows / size, (r + 1) * rows / size) of the first dimension: one contiguous
  // byte range of the row-major tensor per rank.
  const hsize_t rows = dims[0];
  const hsize_t first = rows * static_cast<hsize_t>(rank) / static_cast<hsize_t>(size);
  const hsize_t last = rows * static_cast<hsize_t>(rank + 1) / static_cast<hsize_t>(size);
  if (last == first) return;
  hsize_t row_elements = 1;
  for (size_t d = 1; d < dims.size(); ++d) row_elements *= dims[d];
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = first;
  count[0] = last - first;
  Handle file_space(HPA_H5_CHECK(H5Dget_space(dataset.get()), name), H5Sclose);
  HPA_H5_CHECK(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
               name);
  Handle memory = make_space(count);
  HPA_H5_CHECK(H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, memory.get(), file_space.get(), H5P_DEFAULT,
                        values + first * row_elements),
               name);
}

std::vector<hsize_t> dataset_dims(hid_t dataset) {
  Handle space(HPA_H5_CHECK(H5Dget_space(dataset), "dataspace"), H5Sclose);
  const int rank = HPA_H5_CHECK(H5Sget_simple_extent_ndims(space.get()), "dataspace");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  HPA_H5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "dataspace");
  return dims;
}

void write_attr_string(hid_t loc, const std::string& name, const std::string& value) {
  Handle type = string_type();
  Handle space = make_space({});
  Handle attr = create_attr(loc, name, type.get(), space.get());
  const char* data = value.c_str();
  HPA_H5_CHECK(H5Awrite(attr.get(), type.get(), &data), name);
}

void write_attr_int(hid_t loc, const std::string& name, int64_t value) {
  Handle space = make_space({});
  Handle attr = create_attr(loc, name, H5T_STD_I64LE, space.get());
  HPA_H5_CHECK(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), name);
}

void write_attr_double(hid_t loc, const std::string& name, double value) {
  Handle space = make_space({});
  Handle attr = create_attr(loc, name, H5T_IEEE_F64LE, space.get());
  HPA_H5_CHECK(H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value), name);
}

void write_attr_ints(hid_t loc, const std::string& name, const std::vector<int64_t>& values) {
  Handle space = make_space({static_cast<hsize_t>(values.size())});
  Handle attr = create_attr(loc, name, H5T_STD_I64LE, space.get());
  HPA_H5_CHECK(H5Awrite(attr.get(), H5T_NATIVE_INT64, values.data()), name);
}

std::string read_attr_string(hid_t loc, const std::string& name, const std::string& file_for_errors) {
  Handle attr = open_attr(loc, name, file_for_errors);
  Handle file_type(HPA_H5_CHECK(H5Aget_type(attr.get()), file_for_errors), H5Tclose);
  if (H5Tget_class(file_type.get()) != H5T_STRING || H5Tis_variable_str(file_type.get()) <= 0)
    HPA_FAIL(file_for_errors << ": attribute '" << name << "' is not a variable-length string");
  Handle type = string_type();
  char* data = nullptr;
  HPA_H5_CHECK(H5Aread(attr.get(), type.get(), &data), file_for_errors);
  std::string value = data ? data : "";
  H5free_memory(data);
  return value;
}

bool has_attr(hid_t loc, const std::string& name) { return H5Aexists(loc, name.c_str()) > 0; }

int64_t read_attr_int(hid_t loc, const std::string& name, const std::string& file_for_errors) {
  const std::vector<int64_t> values = read_attr_ints(loc, name, file_for_errors);
  if (values.size() != 1) HPA_FAIL(file_for_errors << ": attribute '" << name << "' is not a single integer");
  return values[0];
}

double read_attr_double(hid_t loc, const std::string& name, const std::string& file_for_errors) {
  Handle attr = open_attr(loc, name, file_for_errors);
  double value = 0;
  HPA_H5_CHECK(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value), file_for_errors);
  return value;
}

std::vector<int64_t> read_attr_ints(hid_t loc, const std::string& name, const std::string& file_for_errors) {
  Handle attr = open_attr(loc, name, file_for_errors);
  Handle type(HPA_H5_CHECK(H5Aget_type(attr.get()), file_for_errors), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_INTEGER)
    HPA_FAIL(file_for_errors << ": attribute '" << name << "' is not an integer");
  Handle space(HPA_H5_CHECK(H5Aget_space(attr.get()), file_for_errors), H5Sclose);
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  std::vector<int64_t> values(static_cast<size_t>(std::max<hssize_t>(count, 0)));
  if (!values.empty()) HPA_H5_CHECK(H5Aread(attr.get(), H5T_NATIVE_INT64, values.data()), file_for_errors);
  return values;
}

Handle file_access(const comm::NativeComm* comm) {
  Handle fapl = make_plist(H5P_FILE_ACCESS);
  // The communicator comes typed from src/comm; hdf5.h of a parallel build speaks MPI itself.
  if (comm) HPA_H5_CHECK(H5Pset_fapl_mpio(fapl.get(), comm->handle, MPI_INFO_NULL), "MPI-IO driver");
  return fapl;
}

int64_t require_schema_version(hid_t loc, const std::string& path, const char* what, int64_t oldest,
                               int64_t newest) {
  const int64_t version = read_attr_int(loc, "schema_version", path);
  if (version < oldest || version > newest) {
    if (oldest == newest)
      HPA_FAIL(path << ": " << what << " format version " << version << " is not supported (this hpa reads version "
                    << newest << ")");
    HPA_FAIL(path << ": " << what << " format version " << version << " is not supported (this hpa reads versions "
                  << oldest << " to " << newest << ")");
  }
  return version;
}

size_t stored_elements(hid_t dataset, const std::string& name, const std::string& path) {
  uint64_t count = 1;
  for (hsize_t extent : dataset_dims(dataset))
    if (!checked_mul(count, static_cast<uint64_t>(extent), &count))
      HPA_FAIL(path << ": dataset '" << name << "' has extents whose product overflows (damaged file?)");
  Handle type(HPA_H5_CHECK(H5Dget_type(dataset), path + ": " + name), H5Tclose);
  const uint64_t element_bytes = H5Tget_size(type.get());
  uint64_t bytes = 0;
  if (element_bytes == 0 || !checked_mul(count, element_bytes, &bytes))
    HPA_FAIL(path << ": dataset '" << name << "' claims more bytes than can be addressed (damaged file?)");
  Handle dcpl(HPA_H5_CHECK(H5Dget_create_plist(dataset), path + ": " + name), H5Pclose);
  if (H5Pget_layout(dcpl.get()) == H5D_VIRTUAL) {
    // Its data lies in other files (run.h5's views of the epoch files): only a sanity bound here.
    HPA_REQUIRE(bytes <= (uint64_t{1} << 40), path << ": virtual dataset '" << name << "' claims " << bytes
                                                   << " bytes (damaged file?)");
    return static_cast<size_t>(count);
  }
  // Filters (deflate) may shrink what is stored, by at most 1032x for deflate; hpa writes none.
  const uint64_t stored = H5Dget_storage_size(dataset);
  const uint64_t expansion = H5Pget_nfilters(dcpl.get()) > 0 ? 1032 : 1;
  if (bytes / expansion > stored)
    HPA_FAIL(path << ": dataset '" << name << "' claims " << count << " elements (" << bytes
                  << " bytes) but the file stores " << stored << " bytes for it (truncated or damaged file)");
  return static_cast<size_t>(count);
}

at::Tensor read_floats(hid_t loc, const std::string& name, const std::string& path) {
  Handle dataset = open_dataset(loc, name, path);
  stored_elements(dataset.get(), name, path);  // checks the extents before at::empty allocates them
  const std::vector<hsize_t> dims = dataset_dims(dataset.get());
  at::Tensor values =
      at::empty(std::vector<int64_t>(dims.begin(), dims.end()), at::TensorOptions().dtype(at::kFloat));
  HPA_H5_CHECK(
      H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data_ptr<float>()),
      path + ": " + name);
  return values;
}

std::vector<double> read_doubles(hid_t loc, const std::string& name, const std::string& path) {
  Handle dataset = open_dataset(loc, name, path);
  std::vector<double> values(stored_elements(dataset.get(), name, path));
  const size_t count = values.size();
  if (count)
    HPA_H5_CHECK(H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                 path + ": " + name);
  return values;
}

void write_array(hid_t loc, const std::string& name, hid_t file_type, hid_t memory_type, const void* data,
                 size_t count) {
  Handle space = make_space({static_cast<hsize_t>(count)});
  Handle dataset = create_dataset(loc, name, file_type, space.get());
  if (count) HPA_H5_CHECK(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name);
}

void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values) {
  Handle type = string_type();
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const std::string& value : values) pointers.push_back(value.c_str());
  write_array(loc, name, type.get(), type.get(), pointers.data(), pointers.size());
}

std::vector<std::string> read_strings(hid_t loc, const std::string& name, const std::string& path) {
  Handle dataset = open_dataset(loc, name, path);
  Handle file_type(HPA_H5_CHECK(H5Dget_type(dataset.get()), path), H5Tclose);
  if (H5Tget_class(file_type.get()) != H5T_STRING || H5Tis_variable_str(file_type.get()) <= 0)
    HPA_FAIL(path << ": dataset '" << name << "' is not of variable-length strings");
  Handle type = string_type();
  std::vector<char*> pointers(vector_length(dataset.get(), name, path), nullptr);
  if (!pointers.empty()) read_whole(dataset.get(), type.get(), pointers.data(), path + ": " + name);
  std::vector<std::string> values;
  values.reserve(pointers.size());
  for (char* pointer : pointers) {
    values.emplace_back(pointer ? pointer : "");
    H5free_memory(pointer);
  }
  return values;
}

size_t vector_length(hid_t dataset, const std::string& name, const std::string& path) {
  const std::vector<hsize_t> dims = dataset_dims(dataset);
  if (dims.size() != 1) HPA_FAIL(path << ": dataset '" << name << "' is not one-dimensional");
  return stored_elements(dataset, name, path);
}

void read_whole(hid_t dataset, hid_t memory_type, void* out, const std::string& context) {
  HPA_H5_CHECK(H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), context);
}

std::string library_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  std::ostringstream out;
  out << major << "." << minor << "." << release;
  return out.str();
}

}  // namespace hpa::store::h5
