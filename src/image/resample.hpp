// PIL's bilinear resize, the one torchvision's Resize and RandomResizedCrop call on PIL images:
// a triangle filter widened by the downscale factor (antialiasing), weights normalized and rounded
// to 22-bit fixed point, the horizontal pass before the vertical one, each rounded to uint8.
// Pillow 9's Resample.c semantics, reimplemented; only the outputs asked for are computed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hpa::image {

// The weights of one axis: output o (of out_first .. out_first+count-1) reads inputs
// start[o] .. start[o]+taps_used[o]-1 of an input of `in_size` pixels, of which the box
// [in0, in1) is resized to `out_size` pixels.
struct ResampleAxis {
  int taps = 0;                  // weights per output (the widest filter)
  std::vector<int32_t> start;    // per computed output
  std::vector<int32_t> used;     // per computed output
  std::vector<int32_t> weights;  // [count x taps], fixed point
  int first_input() const;       // smallest input index read
  int end_input() const;         // one past the largest
  int count() const { return static_cast<int>(start.size()); }
};

ResampleAxis make_axis(int in_size, double in0, double in1, int out_size, int out_first, int out_count);

// Resizes RGB pixels: `source` holds the input rows vertical.first_input() .. end_input()-1 and
// columns horizontal.first_input() .. end_input()-1 (row stride `source_stride` bytes, starting at
// that corner). Writes vertical.count() x horizontal.count() RGB pixels to `out`. `scratch` keeps
// the intermediate rows between calls.
void resample_rgb(const uint8_t* source, size_t source_stride, const ResampleAxis& horizontal,
                  const ResampleAxis& vertical, uint8_t* out, std::vector<uint8_t>& scratch);

// Per channel: a byte v becomes (v / 255 - mean) / std in float, exactly as torchvision's
// ToTensor + Normalize compute it.
struct ChannelNormalization {
  float mean[3];
  float std[3];
};

// The same resize written as three normalized float planes (C, H, W), mirrored left to right when
// `mirror`: the loader's output without an intermediate 8-bit image.
void resample_rgb_to_planes(const uint8_t* source, size_t source_stride, const ResampleAxis& horizontal,
                            const ResampleAxis& vertical, const ChannelNormalization& normalization,
                            bool mirror, float* out, std::vector<uint8_t>& scratch);

}  // namespace hpa::image
