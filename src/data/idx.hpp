// Reader of the IDX format of MNIST and Fashion-MNIST (`*-idx3-ubyte`, `*-idx1-ubyte`, raw or
// gzip-compressed). Validates magic, dimensions, element count and file size; knows nothing of
// datasets, splits or normalization.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace hpa::data {

// Reads an unsigned-byte IDX file with `expected_dims` dimensions (3 for images, 1 for labels)
// into a uint8 tensor of the file's shape. Throws hpa::Error naming `path` on any defect.
at::Tensor read_idx_ubyte(const std::string& path, int expected_dims);

}  // namespace hpa::data
