// Writing RGB images: PNG through libpng (hpa-pack --show) and JPEG through TurboJPEG (hpa-pack
// --max-side re-encodes large images). No torch, MPI or HDF5 here.
#pragma once

#include "image/decode.hpp"

#include <string>

namespace hpa::image {

// Writes `image` as an 8-bit RGB PNG at `path` (through a temporary file: a failed write leaves an
// existing file untouched). Throws hpa::Error naming the path.
void write_png(const std::string& path, const RgbImage& image);

// Baseline JPEG at `quality` (1..100) with 4:2:0 chroma subsampling, as PIL saves by default.
std::vector<uint8_t> encode_jpeg(const RgbImage& image, int quality);

}  // namespace hpa::image
