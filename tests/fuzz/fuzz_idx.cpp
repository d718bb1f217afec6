// The IDX reader (raw and gzip) on arbitrary bytes, as an image file (3 dimensions) and as a
// label file (1 dimension).
#include "data/idx.hpp"
#include "fuzz_support.hpp"

#include <ATen/Functions.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = hpa::fuzz::write_scratch("data-idx-ubyte", data, size);
  for (int dims : {3, 1})
    hpa::fuzz::guarded([&] { (void)hpa::data::read_idx_ubyte(path, dims).sum(); });
  return 0;
}
