// PNG and JPEG writing; see encode.hpp.
#include "image/encode.hpp"

#include "common/error.hpp"

#include <png.h>
#include <turbojpeg.h>

#include <csetjmp>
#include <cstdio>
#include <memory>

namespace hpa::image {
namespace {

struct PngFailure {
  char message[256];
};

void png_write_fail(png_structp png, png_const_charp message) {
  std::snprintf(static_cast<PngFailure*>(png_get_error_ptr(png))->message, sizeof(PngFailure::message), "%s",
                message);
  png_longjmp(png, 1);
}

void png_ignore(png_structp, png_const_charp) {}

// Writes the PNG stream to `file`; false (with `failure` set) on a libpng error.
bool write_png_stream(std::FILE* file, const RgbImage& image, PngFailure& failure) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &failure, png_write_fail, png_ignore);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < image.height; ++y)
    png_write_row(png, image.pixels.data() + static_cast<size_t>(y) * static_cast<size_t>(image.width) * 3);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

void write_png(const std::string& path, const RgbImage& image) {
  const std::string temporary = path + ".tmp";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  HPA_REQUIRE(file, path << ": cannot open for writing");
  PngFailure failure{"write error"};
  const bool written = write_png_stream(file, image, failure);
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    HPA_FAIL(path << ": cannot write the PNG (" << (written ? "close or rename failed" : failure.message)
                  << ")");
  }
}

std::vector<uint8_t> encode_jpeg(const RgbImage& image, int quality) {
  HPA_INTERNAL_CHECK(quality >= 1 && quality <= 100, "JPEG quality " << quality);
  std::unique_ptr<void, int (*)(tjhandle)> encoder(tjInitCompress(), tjDestroy);
  HPA_REQUIRE(encoder, "cannot create a JPEG encoder: " << tjGetErrorStr2(nullptr));
  unsigned char* data = nullptr;
  unsigned long size = 0;
  if (tjCompress2(encoder.get(), image.pixels.data(), image.width, 0, image.height, TJPF_RGB, &data, &size,
                  TJSAMP_420, quality, TJFLAG_ACCURATEDCT) != 0) {
    const std::string message = tjGetErrorStr2(encoder.get());
    tjFree(data);
    HPA_FAIL("JPEG encoding failed: " << message);
  }
  std::vector<uint8_t> bytes(data, data + size);
  tjFree(data);
  return bytes;
}

}  // namespace hpa::image
