// JPEG and PNG decoding; see decode.hpp. Both libraries report errors by longjmp: each decoding
// function creates every C++ object it needs before its setjmp, so a jump skips no destructor.
#include "image/decode.hpp"

#include "common/error.hpp"

#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>

// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>

namespace hpa::image {
namespace {

// libjpeg-turbo widens a cropped row to whole iMCUs, but its fancy (smoothed) chroma upsampling
// treats the edges of the crop as image edges: the outermost pixel can differ by a level or two
// from a full decode. Decoding this margin around the wanted region keeps every wanted pixel equal.
constexpr int kCropMarginPx = 2;

const uint8_t kPngMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

bool is_jpeg(const uint8_t* data, size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}
bool is_png(const uint8_t* data, size_t size) { return size >= 8 && std::memcmp(data, kPngMagic, 8) == 0; }

// PIL's decompression-bomb limit (Image.MAX_IMAGE_PIXELS is 89,478,485; PIL refuses more than twice
// that): a header of a few bytes may claim 65500 x 65500 pixels, 12 GiB of RGB, so the size is checked
// before anything is allocated for the pixels. ImageNet's largest images have about 12 million.
constexpr int64_t kMaxPixels = 2 * int64_t{89478485};

bool too_many_pixels(int64_t width, int64_t height) { return width * height > kMaxPixels; }

[[noreturn]] void fail_too_many_pixels(int64_t width, int64_t height) {
  HPA_FAIL("image of " << width << " x " << height << " pixels exceeds the decompression-bomb limit of "
                       << kMaxPixels << " pixels (PIL's)");
}

void check_region(const Rect& region, int width, int height) {
  HPA_INTERNAL_CHECK(region.x >= 0 && region.y >= 0 && region.width > 0 && region.height > 0 &&
                         region.x + region.width <= width && region.y + region.height <= height,
                     "region " << region.x << "," << region.y << " " << region.width << "x" << region.height
                               << " outside a " << width << "x" << height << " image");
}

// ---- JPEG ------------------------------------------------------------------------------------------

struct JpegErrors {
  jpeg_error_mgr manager;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

void jpeg_fail(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

void jpeg_note(j_common_ptr info, int level) {
  // Warnings (level -1) are ignored as PIL ignores them, except running out of data: PIL refuses a
  // truncated file ("image file is truncated") where libjpeg would pad it with grey.
  if (level == -1 && info->err->msg_code == JWRN_JPEG_EOF)
    reinterpret_cast<JpegErrors*>(info->err)->truncated = true;
}

// PIL reads every CMYK JPEG as Adobe-inverted ("CMYK;I") and converts CMYK to RGB as
// R = (255 - C) * (255 - K) / 255 with its rounding MULDIV255; in terms of the stored (inverted)
// values c, k that is k - muldiv255(255 - c, k).
inline uint8_t pil_cmyk_channel(unsigned stored_c, unsigned stored_k) {
  const unsigned product = (255 - stored_c) * stored_k + 128;
  return static_cast<uint8_t>(stored_k - (((product >> 8) + product) >> 8));
}

void cmyk_to_rgb(const JSAMPLE* in, int count, uint8_t* out) {
  for (int x = 0; x < count; ++x, in += 4, out += 3) {
    out[0] = pil_cmyk_channel(in[0], in[3]);
    out[1] = pil_cmyk_channel(in[1], in[3]);
    out[2] = pil_cmyk_channel(in[2], in[3]);
  }
}

// The frame header (SOFn) found by walking the markers, without building a decompressor: most
// of what a decode costs beyond the pixels. False when the walk does not find a usable one.
bool scan_jpeg_frame(const uint8_t* data, size_t size, Header& header) {
  size_t at = 2;  // after SOI
  while (at + 4 <= size) {
    if (data[at] != 0xFF) return false;
    const uint8_t marker = data[at + 1];
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // markers without a length
      at += 2;
      continue;
    }
    const size_t length = static_cast<size_t>(data[at + 2]) << 8 | data[at + 3];
    if (length < 2) return false;
    const bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (frame) {
      if (length < 8 || at + 10 > size) return false;
      header.height = data[at + 5] << 8 | data[at + 6];
      header.width = data[at + 7] << 8 | data[at + 8];
      header.components = data[at + 9];
      header.progressive = marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE;
      return header.height > 0 && header.width > 0 && header.components > 0;  // height 0: defined later (DNL)
    }
    at += 2 + length;
  }
  return false;
}

// Errors longjmp back to the caller's setjmp; warnings go to jpeg_note.
void route_errors(jpeg_decompress_struct& info, JpegErrors& errors) {
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jpeg_fail;
  errors.manager.emit_message = jpeg_note;
  errors.truncated = false;
}

Header jpeg_header(const uint8_t* data, size_t size) {
  Header scanned;
  scanned.format = Format::jpeg;
  if (scan_jpeg_frame(data, size, scanned)) {
    if (too_many_pixels(scanned.width, scanned.height)) fail_too_many_pixels(scanned.width, scanned.height);
    return scanned;
  }
  jpeg_decompress_struct info;
  JpegErrors errors;
  route_errors(info, errors);
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    HPA_FAIL("corrupt JPEG header: " << errors.message);
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&info, TRUE);
  Header header;
  header.format = Format::jpeg;
  header.width = static_cast<int>(info.image_width);
  header.height = static_cast<int>(info.image_height);
  header.components = info.num_components;
  header.progressive = info.progressive_mode != 0;
  jpeg_destroy_decompress(&info);
  if (too_many_pixels(header.width, header.height)) fail_too_many_pixels(header.width, header.height);
  return header;
}

// Decodes `region` at 1/scale into `out`; `whole` also reads to the end of the stream (the hpa-pack
// check). Colour rows go straight into `out`, cropped only to libjpeg's iMCU boundaries; CMYK rows
// are converted into a tight region. Returns where the region lies in `out`.
RgbView jpeg_decode(const uint8_t* data, size_t size, const Rect& region, int scale, bool whole,
                    RgbImage& out) {
  jpeg_decompress_struct info;
  JpegErrors errors;
  std::vector<JSAMPLE> row;
  route_errors(info, errors);
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    HPA_FAIL("corrupt JPEG data: " << errors.message);
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&info, TRUE);
  if (too_many_pixels(info.image_width, info.image_height)) {
    const int64_t width = info.image_width, height = info.image_height;
    jpeg_destroy_decompress(&info);
    fail_too_many_pixels(width, height);
  }
  const bool cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
  info.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;  // libjpeg-turbo turns grey into RGB by replication
  info.scale_num = 1;
  info.scale_denom = static_cast<unsigned>(scale);
  jpeg_start_decompress(&info);
  const int width = static_cast<int>(info.output_width), height = static_cast<int>(info.output_height);
  const int components = info.output_components;
  if (region.x < 0 || region.y < 0 || region.width <= 0 || region.height <= 0 ||
      region.x + region.width > width || region.y + region.height > height) {
    jpeg_destroy_decompress(&info);
    check_region(region, width, height);
  }
  // Crop with a margin (see kCropMarginPx); libjpeg widens the crop further to iMCU boundaries.
  JDIMENSION crop_x = static_cast<JDIMENSION>(std::max(0, region.x - kCropMarginPx));
  JDIMENSION crop_width =
      static_cast<JDIMENSION>(std::min(width, region.x + region.width + kCropMarginPx)) - crop_x;
  if (crop_width < info.output_width) jpeg_crop_scanline(&info, &crop_x, &crop_width);
  const int first_row = std::max(0, region.y - kCropMarginPx);
  if (first_row > 0) jpeg_skip_scanlines(&info, static_cast<JDIMENSION>(first_row));
  const size_t row_bytes = static_cast<size_t>(crop_width) * static_cast<size_t>(components);
  row.resize(row_bytes);
  const int column = region.x - static_cast<int>(crop_x);
  out.width = cmyk ? region.width : static_cast<int>(crop_width);
  out.height = region.height;
  const size_t stride = static_cast<size_t>(out.width) * 3;
  out.pixels.resize(stride * static_cast<size_t>(region.height));
  const int end_row = whole ? height : region.y + region.height;
  for (int y = first_row; y < end_row && !errors.truncated; ++y) {
    const bool wanted = y >= region.y && y < region.y + region.height;
    // Rows of the margin above the region have no place in `out` (forming that address is UB).
    uint8_t* target = wanted ? out.pixels.data() + static_cast<size_t>(y - region.y) * stride : nullptr;
    JSAMPROW pointer = wanted && !cmyk ? target : row.data();
    jpeg_read_scanlines(&info, &pointer, 1);
    if (wanted && cmyk) cmyk_to_rgb(row.data() + static_cast<size_t>(column) * 4, region.width, target);
  }
  if (whole && !errors.truncated) jpeg_finish_decompress(&info);
  const bool truncated = errors.truncated;
  jpeg_destroy_decompress(&info);
  HPA_REQUIRE(!truncated, "truncated JPEG: the data ends before the image does");
  return {out.pixels.data() + (cmyk ? 0 : static_cast<size_t>(column) * 3), stride};
}

// ---- PNG -------------------------------------------------------------------------------------------

struct PngSource {
  const uint8_t* data;
  size_t size, position;
  char message[256];
};

void png_read_bytes(png_structp png, png_bytep out, png_size_t length) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (length > source->size - source->position)
    png_error(png, "truncated PNG: the data ends before the image does");
  std::memcpy(out, source->data + source->position, length);
  source->position += length;
}

void png_fail(png_structp png, png_const_charp message) {
  auto* source = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(source->message, sizeof source->message, "%s", message);
  png_longjmp(png, 1);
}

void png_ignore_warning(png_structp, png_const_charp) {}

// Header only (`region` null) or a decode of `region` (`whole`: every row and the end chunks).
Header png_decode(const uint8_t* data, size_t size, const Rect* region, bool whole, RgbImage* out) {
  PngSource source{data, size, 0, {0}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_fail, png_ignore_warning);
  HPA_REQUIRE(png, "out of memory creating a PNG reader");
  png_infop info = png_create_info_struct(png);
  std::vector<uint8_t> image;
  std::vector<png_bytep> rows;
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    HPA_FAIL("out of memory creating a PNG reader");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    HPA_FAIL("corrupt PNG: " << source.message);
  }
  png_set_read_fn(png, &source, png_read_bytes);
  png_read_info(png, info);
  Header header;
  header.format = Format::png;
  header.width = static_cast<int>(png_get_image_width(png, info));
  header.height = static_cast<int>(png_get_image_height(png, info));
  header.components = png_get_channels(png, info);
  header.progressive = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
  if (too_many_pixels(header.width, header.height)) {
    png_destroy_read_struct(&png, &info, nullptr);
    fail_too_many_pixels(header.width, header.height);
  }
  if (!region) {
    png_destroy_read_struct(&png, &info, nullptr);
    return header;
  }
  // convert("RGB") as PIL does it: palette expanded, grey replicated, 1/2/4-bit grey scaled to 0..255,
  // alpha and tRNS transparency dropped, no gamma correction; 16-bit samples to their high byte,
  // except 16-bit grey without alpha, which PIL opens as a 32-bit integer image ("I") whose
  // conversion clips at 255 (1000 -> 255, 100 -> 100).
  const int color_type = png_get_color_type(png, info), bit_depth = png_get_bit_depth(png, info);
  const bool grey16 = color_type == PNG_COLOR_TYPE_GRAY && bit_depth == 16;
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);  // with tRNS: RGBA
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (bit_depth == 16 && !grey16) png_set_strip_16(png);
  if ((color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
  if (!grey16 && (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA))
    png_set_gray_to_rgb(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const size_t stride = static_cast<size_t>(header.width) * (grey16 ? 2 : 3);
  HPA_INTERNAL_CHECK(png_get_rowbytes(png, info) == stride, "PNG row size");
  std::vector<uint8_t> rgb_row(grey16 ? static_cast<size_t>(header.width) * 3 : 0);
  const auto to_rgb = [&](const uint8_t* row) -> const uint8_t* {  // a decoded row as 8-bit RGB
    if (!grey16) return row;
    for (size_t x = 0; x < static_cast<size_t>(header.width); ++x) {
      const unsigned value = (static_cast<unsigned>(row[2 * x]) << 8) | row[2 * x + 1];
      std::memset(rgb_row.data() + 3 * x, static_cast<int>(std::min(value, 255u)), 3);
    }
    return rgb_row.data();
  };
  out->width = region->width;
  out->height = region->height;
  out->pixels.resize(static_cast<size_t>(region->width) * static_cast<size_t>(region->height) * 3);
  const auto copy = [&](const uint8_t* row, int y) {
    std::memcpy(
        out->pixels.data() + static_cast<size_t>(y - region->y) * static_cast<size_t>(region->width) * 3,
        to_rgb(row) + static_cast<size_t>(region->x) * 3, static_cast<size_t>(region->width) * 3);
  };
  if (passes > 1) {  // interlaced: every pass touches every row, so the whole image is read
    image.resize(stride * static_cast<size_t>(header.height));
    rows.resize(static_cast<size_t>(header.height));
    for (int y = 0; y < header.height; ++y)
      rows[static_cast<size_t>(y)] = image.data() + stride * static_cast<size_t>(y);
    png_read_image(png, rows.data());
    for (int y = region->y; y < region->y + region->height; ++y) copy(rows[static_cast<size_t>(y)], y);
  } else {
    image.resize(stride);
    const int end_row = whole ? header.height : region->y + region->height;
    for (int y = 0; y < end_row; ++y) {
      png_read_row(png, image.data(), nullptr);
      if (y >= region->y && y < region->y + region->height) copy(image.data(), y);
    }
  }
  if (whole) png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return header;
}

}  // namespace

const char* format_name(Format format) { return format == Format::png ? "PNG" : "JPEG"; }

Header read_header(const uint8_t* data, size_t size) {
  HPA_REQUIRE(size > 0, "empty file (0 bytes)");
  if (is_jpeg(data, size)) return jpeg_header(data, size);
  if (is_png(data, size)) return png_decode(data, size, nullptr, false, nullptr);
  char start[32];
  std::snprintf(start, sizeof start, "%02x %02x %02x %02x", data[0], size > 1 ? data[1] : 0,
                size > 2 ? data[2] : 0, size > 3 ? data[3] : 0);
  HPA_FAIL("not a JPEG or PNG image (it starts with bytes " << start << ")");
}

RgbView decode_region_view(const uint8_t* data, size_t size, const Rect& region, int scale_denominator,
                           RgbImage& buffer) {
  HPA_INTERNAL_CHECK(
      scale_denominator == 1 || scale_denominator == 2 || scale_denominator == 4 || scale_denominator == 8,
      "DCT scale 1/" << scale_denominator);
  if (is_jpeg(data, size)) return jpeg_decode(data, size, region, scale_denominator, false, buffer);
  HPA_INTERNAL_CHECK(scale_denominator == 1, "PNG cannot be DCT-scaled");
  const Header header = read_header(data, size);
  check_region(region, header.width, header.height);
  png_decode(data, size, &region, false, &buffer);
  return {buffer.pixels.data(), static_cast<size_t>(region.width) * 3};
}

void decode_region(const uint8_t* data, size_t size, const Rect& region, int scale_denominator,
                   RgbImage& out) {
  RgbImage buffer;
  const RgbView view = decode_region_view(data, size, region, scale_denominator, buffer);
  out.width = region.width;
  out.height = region.height;
  out.pixels.resize(static_cast<size_t>(region.width) * static_cast<size_t>(region.height) * 3);
  for (int y = 0; y < region.height; ++y)
    std::memcpy(out.pixels.data() + static_cast<size_t>(y) * static_cast<size_t>(region.width) * 3,
                view.pixels + static_cast<size_t>(y) * view.stride_bytes,
                static_cast<size_t>(region.width) * 3);
}

RgbImage decode_full(const uint8_t* data, size_t size) {
  const Header header = read_header(data, size);
  RgbImage out;
  const Rect all{0, 0, header.width, header.height};
  if (header.format == Format::jpeg)
    jpeg_decode(data, size, all, 1, true, out);  // no crop: `out` is exactly the image
  else
    png_decode(data, size, &all, true, &out);
  return out;
}

}  // namespace hpa::image
