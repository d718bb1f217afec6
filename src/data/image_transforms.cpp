// torchvision's ImageNet transforms on encoded images; see image_transforms.hpp.
#include "data/image_transforms.hpp"

#include "common/error.hpp"
#include "common/keyed_random.hpp"
#include "image/resample.hpp"

#include <algorithm>
#include <cmath>

namespace hpa::data {
namespace {

// The k-th independent word drawn from one sample's random word.
uint64_t draw(uint64_t random, uint64_t k) { return splitmix64(random + k * 0x9E3779B97F4A7C15ull); }

double uniform(uint64_t random, uint64_t k, double low, double high) {
  return low + (high - low) * (static_cast<double>(draw(random, k) >> 11) * 0x1.0p-53);
}

// Python's round() of a float: halves to even, which nearbyint does in the default rounding mode.
int python_round(double value) { return static_cast<int>(std::nearbyint(value)); }

// The largest DCT reduction 1/d (d in 1, 2, 4, 8) that leaves `width` x `height` at least twice
// `out_width` x `out_height`: the antialiased resize after it still averages over two or more
// pixels, so the result stays within a few levels of resizing the full decode (a reduction all the
// way down to the output size was measured up to 51 levels off at sharp edges).
int dct_denominator(int width, int height, int out_width, int out_height) {
  int d = 1;
  while (d < 8 && width >= 4 * d * out_width && height >= 4 * d * out_height) d *= 2;
  return d;
}

}  // namespace

ImageTransform make_image_transform(int64_t image_size, int64_t eval_resize, bool dct_scaling) {
  ImageTransform transform;
  transform.size = static_cast<int>(image_size);
  transform.resize_size = static_cast<int>(eval_resize);
  transform.dct_scaling = dct_scaling;
  return transform;
}

TransformGeometry random_resized_crop(int width, int height, uint64_t random, const ImageTransform& t) {
  TransformGeometry g;
  const double area = static_cast<double>(width) * static_cast<double>(height);
  const double log_low = std::log(t.min_ratio), log_high = std::log(t.max_ratio);
  bool found = false;
  for (uint64_t attempt = 0; attempt < 10 && !found; ++attempt) {
    const double target_area = area * uniform(random, 2 * attempt, t.min_area, t.max_area);
    const double aspect_ratio = std::exp(uniform(random, 2 * attempt + 1, log_low, log_high));
    const int w = python_round(std::sqrt(target_area * aspect_ratio));
    const int h = python_round(std::sqrt(target_area / aspect_ratio));
    if (0 < w && w <= width && 0 < h && h <= height) {
      g.width = w;
      g.height = h;
      g.top = static_cast<int>(bounded(draw(random, 20), static_cast<uint64_t>(height - h + 1)));
      g.left = static_cast<int>(bounded(draw(random, 21), static_cast<uint64_t>(width - w + 1)));
      found = true;
    }
  }
  if (!found) {  // torchvision's fallback: the central crop with the ratio clamped to the range
    g.fallback = true;
    const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
    g.width = width;
    g.height = height;
    if (in_ratio < t.min_ratio)
      g.height = python_round(width / t.min_ratio);
    else if (in_ratio > t.max_ratio)
      g.width = python_round(height * t.max_ratio);
    g.top = (height - g.height) / 2;
    g.left = (width - g.width) / 2;
  }
  g.flip = t.flip && (draw(random, 22) & 1) != 0;
  return g;
}

TransformGeometry resize_center_crop(int width, int height, const ImageTransform& t) {
  TransformGeometry g;
  const int shorter = std::min(width, height), longer = std::max(width, height);
  // torchvision: new_long = int(size * long / short), the product exact, then a float division.
  const int new_long = shorter == t.resize_size
                           ? longer
                           : static_cast<int>(static_cast<double>(int64_t{t.resize_size} * longer) / shorter);
  g.resized_width = width <= height ? t.resize_size : new_long;
  g.resized_height = width <= height ? new_long : t.resize_size;
  g.width = g.height = t.size;
  g.top = python_round((g.resized_height - t.size) / 2.0);
  g.left = python_round((g.resized_width - t.size) / 2.0);
  return g;
}

TransformGeometry transform_image(const uint8_t* data, size_t bytes, const ImageTransform& t, uint64_t random,
                                  const image::ChannelNormalization& normalization, TransformScratch& scratch,
                                  float* out) {
  const image::Header header = image::read_header(data, bytes);
  const bool scalable = t.dct_scaling && header.format == image::Format::jpeg;
  TransformGeometry g;
  image::ResampleAxis columns, rows;
  int origin_x = 0, origin_y = 0;  // where the axes' input 0 lies in the decoded (scaled) image
  if (t.train) {
    g = random_resized_crop(header.width, header.height, random, t);
    g.scale_denominator = scalable ? dct_denominator(g.width, g.height, t.size, t.size) : 1;
    const int d = g.scale_denominator;
    if (d == 1) {  // exactly torchvision: crop, then resize the crop (clamped at its edges)
      columns = image::make_axis(g.width, 0, g.width, t.size, 0, t.size);
      rows = image::make_axis(g.height, 0, g.height, t.size, 0, t.size);
      origin_x = g.left;
      origin_y = g.top;
    } else {  // the crop box in the 1/d image, from the whole pixel containing its start
      const auto axis = [&](int start, int length, int side, int& origin) {
        origin = start / d;
        const int end = std::min(image::scaled_side(side, d), (start + length + d - 1) / d);
        return image::make_axis(end - origin, static_cast<double>(start) / d - origin,
                                static_cast<double>(start + length) / d - origin, t.size, 0, t.size);
      };
      columns = axis(g.left, g.width, header.width, origin_x);
      rows = axis(g.top, g.height, header.height, origin_y);
    }
  } else {
    g = resize_center_crop(header.width, header.height, t);
    g.scale_denominator =
        scalable ? dct_denominator(header.width, header.height, g.resized_width, g.resized_height) : 1;
    const int scaled_width = image::scaled_side(header.width, g.scale_denominator);
    const int scaled_height = image::scaled_side(header.height, g.scale_denominator);
    columns = image::make_axis(scaled_width, 0, scaled_width, g.resized_width, g.left, t.size);
    rows = image::make_axis(scaled_height, 0, scaled_height, g.resized_height, g.top, t.size);
  }
  const image::Rect region{origin_x + columns.first_input(), origin_y + rows.first_input(),
                           columns.end_input() - columns.first_input(),
                           rows.end_input() - rows.first_input()};
  const image::RgbView view =
      image::decode_region_view(data, bytes, region, g.scale_denominator, scratch.decoded);
  image::resample_rgb_to_planes(view.pixels, view.stride_bytes, columns, rows, normalization, g.flip, out,
                                scratch.intermediate);
  return g;
}

}  // namespace hpa::data
