// torchvision's ImageNet transforms on encoded images, as the reference code composes them:
// train = RandomResizedCrop(size, scale, ratio) + RandomHorizontalFlip, eval = Resize(resize) +
// CenterCrop(size). Each draw comes from a keyed random word, so a sample's crop depends only on
// (seed, epoch, sample). Only the part of the image the output needs is decoded, and JPEGs are
// DCT-scaled by 1/2, 1/4 or 1/8 when the crop (train) or the image (eval) stays at least twice the
// size the resize then makes of it: option `dct_scaling`. Output: float planes (C, H, W), flip applied.
#pragma once

#include "image/decode.hpp"
#include "image/resample.hpp"

#include <cstdint>
#include <vector>

namespace hpa::data {

struct ImageTransform {
  bool train = false;
  int size = 224;         // output side
  int resize_size = 256;  // eval: shorter side before the center crop
  double min_area = 0.08, max_area = 1.0;
  double min_ratio = 3.0 / 4.0, max_ratio = 4.0 / 3.0;
  bool dct_scaling = true;
  bool flip = true;  // train: RandomHorizontalFlip
};

// The transform with the options' sizes (--image-size, --eval-resize, --dct-scaling); train off.
ImageTransform make_image_transform(int64_t image_size, int64_t eval_resize, bool dct_scaling);

// What a transform did to one image, in the original image's pixels (for --show and the tests).
struct TransformGeometry {
  int top = 0, left = 0, height = 0, width = 0;  // train: the crop box; eval: the resized image's crop
  int resized_height = 0, resized_width = 0;     // eval: the size after Resize
  bool flip = false;
  bool fallback = false;  // train: 10 draws failed, torchvision's central crop was used
  int scale_denominator = 1;
};

// RandomResizedCrop.get_params for a width x height image, the draws taken from `random`.
TransformGeometry random_resized_crop(int width, int height, uint64_t random,
                                      const ImageTransform& transform);

// Resize(resize_size) + CenterCrop(size) geometry (torchvision's rounding).
TransformGeometry resize_center_crop(int width, int height, const ImageTransform& transform);

// Buffers one thread reuses from image to image.
struct TransformScratch {
  image::RgbImage decoded;
  std::vector<uint8_t> intermediate;
};

// Decodes and transforms one encoded image into `out`: 3 x size x size floats, normalized.
TransformGeometry transform_image(const uint8_t* data, size_t bytes, const ImageTransform& transform,
                                  uint64_t random, const image::ChannelNormalization& normalization,
                                  TransformScratch& scratch, float* out);

}  // namespace hpa::data
