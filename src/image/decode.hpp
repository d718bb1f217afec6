// Encoded images (JPEG through libjpeg-turbo, PNG through libpng) to 8-bit RGB, pixel for pixel as
// PIL's Image.open(f).convert("RGB") gives them (torchvision's ImageFolder loader): CMYK as Adobe
// inverted CMYK, grayscale replicated, alpha dropped. JPEG regions are cropped before decode and
// can be DCT-scaled. No torch, MPI or HDF5 here; errors carry no file name (callers add it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hpa::image {

enum class Format : uint8_t { jpeg = 1, png = 2 };

const char* format_name(Format format);

struct Header {
  Format format = Format::jpeg;
  int width = 0, height = 0;
  int components = 0;  // as stored: 1 gray, 3 colour, 4 CMYK/YCCK (PNG: 1 to 4 with alpha)
  bool progressive = false;
};

// Format (by content, not by file name), size and components; throws hpa::Error for anything that
// is not a readable JPEG or PNG header (empty, other format, corrupt).
Header read_header(const uint8_t* data, size_t size);

struct Rect {
  int x = 0, y = 0, width = 0, height = 0;
};

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major, 3 bytes per pixel
};

// The size of a side after libjpeg's DCT scaling by 1/denominator (it rounds up).
inline int scaled_side(int side, int denominator) { return (side + denominator - 1) / denominator; }

// Decodes `region` of the image scaled by 1/scale_denominator (1, 2, 4 or 8; PNG: 1 only), in the
// coordinates of the scaled image, into `out`. Rows below the region are not decoded. A file that
// ends before the region does is an error ("truncated"); other corrupt-data warnings are ignored,
// as PIL ignores them.
void decode_region(const uint8_t* data, size_t size, const Rect& region, int scale_denominator,
                   RgbImage& out);

// Where decoded pixels lie: row r of the region starts at pixels + r * stride_bytes.
struct RgbView {
  const uint8_t* pixels = nullptr;
  size_t stride_bytes = 0;
};

// decode_region without its final copy: JPEG rows are decoded straight into `buffer`, which may
// hold more columns than the region (libjpeg crops to whole iMCUs); returns where the region is.
RgbView decode_region_view(const uint8_t* data, size_t size, const Rect& region, int scale_denominator,
                           RgbImage& buffer);

// Decodes the whole image at full size: the check hpa-pack runs on every file.
RgbImage decode_full(const uint8_t* data, size_t size);

}  // namespace hpa::image
