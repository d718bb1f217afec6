// Shared by the libFuzzer targets: where an input becomes a file for the readers that take a path,
// and which failures are findings. A reader may reject input only with hpa::Error (the one-line
// error the mains print) or c10::Error (LibTorch's, which the mains also print as one line); any
// other exception (std::bad_alloc, std::length_error, std::out_of_range, ...) means a size or index
// from the file was used before it was checked, and aborts so that libFuzzer keeps the input.
#pragma once

#include "common/error.hpp"

#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace hpa::fuzz {

// A folder of this process on a RAM file system (TMPDIR if set, else /dev/shm, else /tmp).
const std::string& scratch_dir();
// Writes `size` bytes to `path` (replacing it).
void write_file(const std::string& path, const uint8_t* data, size_t size);
// Writes `size` bytes to scratch_dir()/name (replacing it) and returns the path.
std::string write_scratch(const std::string& name, const uint8_t* data, size_t size);

template <class Body>
int guarded(Body&& body) {
  try {
    body();
  } catch (const hpa::Error&) {
  } catch (const c10::Error&) {
  } catch (const std::exception& error) {
    std::fprintf(stderr, "fuzz: unexpected exception (not hpa::Error): %s\n", error.what());
    std::abort();
  }
  return 0;
}

// For the HDF5 readers: after each input, whether accepted or refused, no HDF5 object (file, group,
// dataset, datatype, attribute) may be left open. A leaked identifier is no memory leak to
// LeakSanitizer (HDF5 still holds it), but it keeps a damaged file and HDF5's state alive into the
// next input, and on a long job into the next file; aborts naming the count.
void require_no_open_hdf5_objects();

template <class Body>
int guarded_hdf5(Body&& body) {
  guarded(body);
  require_no_open_hdf5_objects();
  return 0;
}

}  // namespace hpa::fuzz
