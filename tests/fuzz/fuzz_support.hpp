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

}  // namespace hpa::fuzz
