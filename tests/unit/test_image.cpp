// Image decoding, resampling and the ImageNet transform geometry. Pixels are compared with PIL and
// torchvision in tests/e2e/test_imagenet.py; here: crop-before-decode equals a full decode, every
// malformed input is one error, and RandomResizedCrop's draws follow the distribution torchvision
// samples from (checked against a numerical integration, not against hpa).
#include "common/error.hpp"
#include "common/keyed_random.hpp"
#include "data/image_transforms.hpp"
#include "image/decode.hpp"
#include "image/encode.hpp"
#include "image/resample.hpp"

#include <gtest/gtest.h>

#include <turbojpeg.h>
#include <zlib.h>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <random>

namespace {

const char* kPhoto = "/usr/share/backgrounds/mate/nature/LadyBird.jpg";  // Debian's mate-backgrounds

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path << " missing: install mate-backgrounds (env/debian.sh)";
  return {std::istreambuf_iterator<char>(in), {}};
}

// A real photograph at about ImageNet size, re-encoded with the given chroma subsampling.
std::vector<uint8_t> photo_jpeg(int subsampling, bool progressive, int width = 503, int height = 377) {
  const std::vector<uint8_t> original = read_file(kPhoto);
  const hpa::image::RgbImage full = hpa::image::decode_full(original.data(), original.size());
  hpa::image::RgbImage small;
  small.width = width;
  small.height = height;
  small.pixels.resize(static_cast<size_t>(width * height * 3));
  std::vector<uint8_t> scratch;
  hpa::image::resample_rgb(full.pixels.data(), static_cast<size_t>(full.width) * 3,
                           hpa::image::make_axis(full.width, 0, full.width, width, 0, width),
                           hpa::image::make_axis(full.height, 0, full.height, height, 0, height),
                           small.pixels.data(), scratch);
  tjhandle encoder = tjInitCompress();
  unsigned char* data = nullptr;
  unsigned long size = 0;
  EXPECT_EQ(tjCompress2(encoder, small.pixels.data(), width, 0, height, TJPF_RGB, &data, &size, subsampling,
                        85, progressive ? TJFLAG_PROGRESSIVE : 0),
            0);
  std::vector<uint8_t> bytes(data, data + size);
  tjFree(data);
  tjDestroy(encoder);
  return bytes;
}

std::string decode_error_of(const std::vector<uint8_t>& bytes) {
  try {
    hpa::image::decode_full(bytes.data(), bytes.size());
  } catch (const hpa::Error& error) {
    return error.what();
  }
  return "";
}

TEST(Image, RegionDecodeEqualsTheSameRegionOfAFullDecode) {
  std::mt19937 random(7);
  for (int subsampling : {TJSAMP_420, TJSAMP_422, TJSAMP_444, TJSAMP_GRAY}) {
    for (bool progressive : {false, true}) {
      const std::vector<uint8_t> jpeg = photo_jpeg(subsampling, progressive);
      for (int scale : {1, 2, 4}) {
        // The full image at this scale, as a region covering everything.
        const hpa::image::Header header = hpa::image::read_header(jpeg.data(), jpeg.size());
        const int width = hpa::image::scaled_side(header.width, scale),
                  height = hpa::image::scaled_side(header.height, scale);
        hpa::image::RgbImage full, part;
        hpa::image::decode_region(jpeg.data(), jpeg.size(), {0, 0, width, height}, scale, full);
        for (int trial = 0; trial < 25; ++trial) {
          const int w = std::uniform_int_distribution<int>(1, width)(random);
          const int h = std::uniform_int_distribution<int>(1, height)(random);
          const int x = std::uniform_int_distribution<int>(0, width - w)(random);
          const int y = std::uniform_int_distribution<int>(0, height - h)(random);
          hpa::image::decode_region(jpeg.data(), jpeg.size(), {x, y, w, h}, scale, part);
          int differing = 0;
          for (int row = 0; row < h; ++row)
            differing +=
                !std::equal(part.pixels.begin() + row * w * 3, part.pixels.begin() + (row + 1) * w * 3,
                            full.pixels.begin() + ((y + row) * width + x) * 3);
          EXPECT_EQ(differing, 0) << "subsampling " << subsampling << (progressive ? " progressive" : "")
                                  << " 1/" << scale << " region " << x << "," << y << " " << w << "x" << h;
        }
      }
    }
  }
}

TEST(Image, HeaderAndFullDecodeOfJpegAndPng) {
  const std::vector<uint8_t> jpeg = photo_jpeg(TJSAMP_420, false, 64, 48);
  const hpa::image::Header header = hpa::image::read_header(jpeg.data(), jpeg.size());
  EXPECT_EQ(header.format, hpa::image::Format::jpeg);
  EXPECT_EQ(header.width, 64);
  EXPECT_EQ(header.height, 48);
  EXPECT_EQ(header.components, 3);
  const hpa::image::RgbImage pixels = hpa::image::decode_full(jpeg.data(), jpeg.size());
  // PNG round trip through hpa's own writer: lossless.
  const std::string path = ::testing::TempDir() + "/hpa_image_test.png";
  hpa::image::write_png(path, pixels);
  const std::vector<uint8_t> png = read_file(path);
  const hpa::image::Header png_header = hpa::image::read_header(png.data(), png.size());
  EXPECT_EQ(png_header.format, hpa::image::Format::png);
  EXPECT_EQ(hpa::image::decode_full(png.data(), png.size()).pixels, pixels.pixels);
  hpa::image::RgbImage part;
  hpa::image::decode_region(png.data(), png.size(), {5, 7, 20, 9}, 1, part);
  EXPECT_TRUE(
      std::equal(part.pixels.begin(), part.pixels.begin() + 60, pixels.pixels.begin() + (7 * 64 + 5) * 3));
}

TEST(Image, EveryMalformedInputIsOneError) {
  EXPECT_NE(decode_error_of({}).find("empty file"), std::string::npos);
  EXPECT_NE(decode_error_of({'G', 'I', 'F', '8', '9', 'a'}).find("not a JPEG or PNG"), std::string::npos);
  const std::vector<uint8_t> jpeg = photo_jpeg(TJSAMP_420, false);
  EXPECT_NE(
      decode_error_of({jpeg.begin(), jpeg.begin() + static_cast<long>(jpeg.size() / 2)}).find("truncated JPEG"),
      std::string::npos);
  const std::vector<uint8_t> progressive = photo_jpeg(TJSAMP_420, true);
  EXPECT_NE(decode_error_of({progressive.begin(), progressive.begin() + static_cast<long>(progressive.size() / 2)}),
            "");
  EXPECT_NE(decode_error_of({jpeg.begin(), jpeg.begin() + 40}), "");  // inside the header
  std::vector<uint8_t> garbage = jpeg;
  for (size_t k = 2; k < 300; ++k) garbage[k] = static_cast<uint8_t>(k * 37);
  EXPECT_NE(decode_error_of(garbage), "");
  hpa::image::RgbImage image{16, 16, std::vector<uint8_t>(16 * 16 * 3, 100)};
  const std::string path = ::testing::TempDir() + "/hpa_image_truncated.png";
  hpa::image::write_png(path, image);
  const std::vector<uint8_t> png = read_file(path);
  EXPECT_NE(decode_error_of({png.begin(), png.end() - 20}).find("PNG"), std::string::npos);
  EXPECT_NE(decode_error_of({png.begin(), png.begin() + 12}), "");
}

// A header of a few bytes can claim gigapixels: refused before any pixel buffer is allocated (with
// the fix reverted, decoding these allocates 10.8 GB and 1.2 GB).
TEST(Image, DecompressionBombsAreRefusedFromTheHeader) {
  std::vector<uint8_t> jpeg = photo_jpeg(TJSAMP_420, false);
  size_t sof = 2;
  while (sof + 9 < jpeg.size() && !(jpeg[sof] == 0xFF && (jpeg[sof + 1] == 0xC0 || jpeg[sof + 1] == 0xC2))) ++sof;
  ASSERT_LT(sof + 9, jpeg.size());
  for (size_t at : {sof + 5, sof + 7}) jpeg[at] = 0xEA, jpeg[at + 1] = 0x60;  // 60000 x 60000
  EXPECT_NE(decode_error_of(jpeg).find("decompression-bomb limit"), std::string::npos) << decode_error_of(jpeg);
  EXPECT_THROW(hpa::image::read_header(jpeg.data(), jpeg.size()), hpa::Error);

  hpa::image::RgbImage image{16, 16, std::vector<uint8_t>(16 * 16 * 3, 100)};
  const std::string path = ::testing::TempDir() + "/hpa_image_bomb.png";
  hpa::image::write_png(path, image);
  std::vector<uint8_t> png = read_file(path);
  for (size_t at : {16u, 20u}) png[at] = 0, png[at + 1] = 0, png[at + 2] = 0x4E, png[at + 3] = 0x20;  // 20000
  const uLong crc = crc32(0, png.data() + 12, 17);  // "IHDR" and its 13 bytes
  for (int k = 0; k < 4; ++k) png[29 + k] = static_cast<uint8_t>(crc >> (24 - 8 * k));
  EXPECT_NE(decode_error_of(png).find("20000 x 20000 pixels exceeds"), std::string::npos) << decode_error_of(png);
}

TEST(Image, ResampleOfEqualSizeIsTheIdentity) {
  const std::vector<uint8_t> jpeg = photo_jpeg(TJSAMP_420, false, 40, 30);
  const hpa::image::RgbImage pixels = hpa::image::decode_full(jpeg.data(), jpeg.size());
  std::vector<uint8_t> out(40 * 30 * 3), scratch;
  hpa::image::resample_rgb(pixels.pixels.data(), 40 * 3, hpa::image::make_axis(40, 0, 40, 40, 0, 40),
                           hpa::image::make_axis(30, 0, 30, 30, 0, 30), out.data(), scratch);
  EXPECT_EQ(out, pixels.pixels);
  // Downscaling by 4 widens the filter to 9 taps; weights are normalized (sum 2^22, rounded).
  const hpa::image::ResampleAxis axis = hpa::image::make_axis(400, 0, 400, 100, 0, 100);
  EXPECT_EQ(axis.taps, 9);
  for (int o = 0; o < axis.count(); ++o) {
    int64_t sum = 0;
    for (int t = 0; t < axis.used[static_cast<size_t>(o)]; ++t)
      sum += axis.weights[static_cast<size_t>(o * 9 + t)];
    EXPECT_NEAR(static_cast<double>(sum), 1 << 22, 8);
  }
}

TEST(Image, PlanarOutputIsTheResizedImageNormalizedAsTorchvision) {
  const std::vector<uint8_t> jpeg = photo_jpeg(TJSAMP_420, false, 97, 75);
  const hpa::image::RgbImage pixels = hpa::image::decode_full(jpeg.data(), jpeg.size());
  const hpa::image::ChannelNormalization n{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
  for (int width : {37, 64}) {  // with and without a remainder after the 8-pixel steps
    const auto columns = hpa::image::make_axis(97, 0, 97, width, 0, width);
    const auto rows = hpa::image::make_axis(75, 0, 75, 30, 0, 30);
    std::vector<uint8_t> rgb(static_cast<size_t>(width) * 30 * 3), scratch;
    hpa::image::resample_rgb(pixels.pixels.data(), 97 * 3, columns, rows, rgb.data(), scratch);
    for (bool mirror : {false, true}) {
      std::vector<float> planes(rgb.size());
      hpa::image::resample_rgb_to_planes(pixels.pixels.data(), 97 * 3, columns, rows, n, mirror,
                                         planes.data(), scratch);
      int differing = 0;
      for (int y = 0; y < 30; ++y)
        for (int x = 0; x < width; ++x)
          for (int c = 0; c < 3; ++c) {  // ToTensor (v / 255) then Normalize ((t - mean) / std), in float
            const float v = static_cast<float>(rgb[static_cast<size_t>((y * width + x) * 3 + c)]);
            const float expected = (v / 255.0f - n.mean[c]) / n.std[c];
            const int to = mirror ? width - 1 - x : x;
            differing += planes[static_cast<size_t>((c * 30 + y) * width + to)] != expected;
          }
      EXPECT_EQ(differing, 0) << "width " << width << (mirror ? " mirrored" : "");
    }
  }
}

TEST(Transforms, ResizeCenterCropRoundsAsTorchvision) {
  const hpa::data::ImageTransform t;
  // 500x375: shorter side 375 -> 256, longer int(256 * 500 / 375) = 341; left round(58.5) = 58 (half to
  // even).
  hpa::data::TransformGeometry g = hpa::data::resize_center_crop(500, 375, t);
  EXPECT_EQ(g.resized_width, 341);
  EXPECT_EQ(g.resized_height, 256);
  EXPECT_EQ(g.left, 58);
  EXPECT_EQ(g.top, 16);
  g = hpa::data::resize_center_crop(33, 900, t);  // very elongated: 256 x int(256 * 900 / 33)
  EXPECT_EQ(g.resized_width, 256);
  EXPECT_EQ(g.resized_height, 6981);
  EXPECT_EQ(g.top, 3378);                          // round(3378.5) = 3378
  g = hpa::data::resize_center_crop(256, 300, t);  // shorter side already 256: no resize
  EXPECT_EQ(g.resized_height, 300);
}

// P(area fraction <= x | accepted) and P(log ratio <= x | accepted) for RandomResizedCrop on a
// width x height image, by integrating the acceptance region over the uniform draws.
struct CropDistribution {
  std::vector<double> area_cdf, ratio_cdf;  // on a grid of `bins` points
  double accept = 0;
};
CropDistribution integrate(int width, int height, int bins) {
  const double low = std::log(3.0 / 4.0), high = std::log(4.0 / 3.0);
  CropDistribution d;
  d.area_cdf.assign(static_cast<size_t>(bins), 0);
  d.ratio_cdf.assign(static_cast<size_t>(bins), 0);
  const int n = 1500;
  double total = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const double f = 0.08 + 0.92 * (i + 0.5) / n, r = low + (high - low) * (j + 0.5) / n;
      const double area = f * width * height;
      if (std::sqrt(area * std::exp(r)) > width || std::sqrt(area / std::exp(r)) > height) continue;
      total += 1;
      d.area_cdf[static_cast<size_t>(std::min(bins - 1, static_cast<int>(bins * (f - 0.08) / 0.92)))] += 1;
      d.ratio_cdf[static_cast<size_t>(
          std::min(bins - 1, static_cast<int>(bins * (r - low) / (high - low))))] += 1;
    }
  for (int b = 1; b < bins; ++b) {
    d.area_cdf[static_cast<size_t>(b)] += d.area_cdf[static_cast<size_t>(b - 1)];
    d.ratio_cdf[static_cast<size_t>(b)] += d.ratio_cdf[static_cast<size_t>(b - 1)];
  }
  for (double& v : d.area_cdf) v /= total;
  for (double& v : d.ratio_cdf) v /= total;
  d.accept = total / (static_cast<double>(n) * n);
  return d;
}

TEST(Transforms, RandomResizedCropFollowsTorchvisionsDistribution) {
  const hpa::data::ImageTransform t;
  const int width = 500, height = 375, bins = 200, draws = 100000;
  const CropDistribution expected = integrate(width, height, bins);
  std::vector<double> area(static_cast<size_t>(bins), 0), ratio(static_cast<size_t>(bins), 0);
  const double low = std::log(3.0 / 4.0), high = std::log(4.0 / 3.0);
  int fallbacks = 0, flips = 0;
  double top_sum = 0, left_sum = 0;
  for (int k = 0; k < draws; ++k) {
    const uint64_t random =
        hpa::keyed_random(1, 2, static_cast<uint64_t>(k), hpa::RandomStream::augmentation);
    const hpa::data::TransformGeometry g = hpa::data::random_resized_crop(width, height, random, t);
    ASSERT_TRUE(g.top >= 0 && g.left >= 0 && g.top + g.height <= height && g.left + g.width <= width);
    fallbacks += g.fallback;
    flips += g.flip;
    if (g.fallback) continue;
    const double f = static_cast<double>(g.width) * g.height / (width * height);
    const double r = std::log(static_cast<double>(g.width) / g.height);
    area[static_cast<size_t>(std::clamp(static_cast<int>(bins * (f - 0.08) / 0.92), 0, bins - 1))] += 1;
    ratio[static_cast<size_t>(std::clamp(static_cast<int>(bins * (r - low) / (high - low)), 0, bins - 1))] +=
        1;
    top_sum += (height - g.height) > 0 ? static_cast<double>(g.top) / (height - g.height) : 0.5;
    left_sum += (width - g.width) > 0 ? static_cast<double>(g.left) / (width - g.width) : 0.5;
  }
  const double accepted = draws - fallbacks;
  double area_distance = 0, ratio_distance = 0, area_cum = 0, ratio_cum = 0;
  for (int b = 0; b < bins; ++b) {
    area_cum += area[static_cast<size_t>(b)] / accepted;
    ratio_cum += ratio[static_cast<size_t>(b)] / accepted;
    area_distance = std::max(area_distance, std::fabs(area_cum - expected.area_cdf[static_cast<size_t>(b)]));
    ratio_distance =
        std::max(ratio_distance, std::fabs(ratio_cum - expected.ratio_cdf[static_cast<size_t>(b)]));
  }
  // Kolmogorov-Smirnov distances; 1.63 / sqrt(n) = 0.005 is the 1% critical value, rounding of
  // the crop to whole pixels adds a little.
  EXPECT_LT(area_distance, 0.01) << "area fraction";
  EXPECT_LT(ratio_distance, 0.01) << "log aspect ratio";
  // Ten rejected draws in a row are rare here: (1 - acceptance)^10.
  EXPECT_NEAR(fallbacks / static_cast<double>(draws), std::pow(1 - expected.accept, 10), 0.002);
  EXPECT_NEAR(flips / static_cast<double>(draws), 0.5, 0.01);
  EXPECT_NEAR(top_sum / accepted, 0.5, 0.01);  // positions uniform over the valid range
  EXPECT_NEAR(left_sum / accepted, 0.5, 0.01);
}

TEST(Transforms, ElongatedImagesFallBackToTorchvisionsCentralCrop) {
  const hpa::data::ImageTransform t;
  for (uint64_t k = 0; k < 50; ++k) {
    // 1500x41: no crop of area >= 8% with ratio <= 4/3 fits, so every draw is rejected.
    hpa::data::TransformGeometry g = hpa::data::random_resized_crop(1500, 41, k, t);
    EXPECT_TRUE(g.fallback);
    EXPECT_EQ(g.height, 41);
    EXPECT_EQ(g.width, 55);  // round(41 * 4/3) = round(54.67)
    EXPECT_EQ(g.left, (1500 - 55) / 2);
    g = hpa::data::random_resized_crop(33, 900, k, t);
    EXPECT_EQ(g.width, 33);
    EXPECT_EQ(g.height, 44);  // round(33 / (3/4))
  }
}

}  // namespace
