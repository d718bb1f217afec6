// PIL-compatible bilinear resampling; see resample.hpp.
#include "image/resample.hpp"

#include "common/error.hpp"

#include <algorithm>
#include <cmath>

namespace hpa::image {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS for 8-bit images

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

inline uint8_t clip8(int32_t value) {
  if (value >= (1 << kPrecisionBits << 8)) return 255;
  if (value <= 0) return 0;
  return static_cast<uint8_t>(value >> kPrecisionBits);
}

}  // namespace

int ResampleAxis::first_input() const {
  return start.empty() ? 0 : *std::min_element(start.begin(), start.end());
}

int ResampleAxis::end_input() const {
  int end = 0;
  for (size_t o = 0; o < start.size(); ++o) end = std::max(end, start[o] + used[o]);
  return end;
}

ResampleAxis make_axis(int in_size, double in0, double in1, int out_size, int out_first, int out_count) {
  HPA_INTERNAL_CHECK(in_size > 0 && out_size > 0 && in1 > in0 && out_first >= 0 && out_count > 0 &&
                         out_first + out_count <= out_size,
                     "resample axis " << in_size << " [" << in0 << ", " << in1 << ") -> " << out_size);
  const double scale = (in1 - in0) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;  // the bilinear filter's support, widened
  ResampleAxis axis;
  axis.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  axis.start.resize(static_cast<size_t>(out_count));
  axis.used.resize(static_cast<size_t>(out_count));
  axis.weights.assign(static_cast<size_t>(out_count) * static_cast<size_t>(axis.taps), 0);
  std::vector<double> weights(static_cast<size_t>(axis.taps));
  for (int o = 0; o < out_count; ++o) {
    const double center = in0 + (out_first + o + 0.5) * scale;
    // Truncating casts, as Pillow's (int): both rounding steps must match it exactly.
    const int first = std::max(0, static_cast<int>(center - support + 0.5));
    const int end = std::min(in_size, static_cast<int>(center + support + 0.5));
    const int used = end - first;
    HPA_INTERNAL_CHECK(used >= 1 && used <= axis.taps, "resample taps " << used);
    double total = 0.0;
    for (int x = 0; x < used; ++x) {
      weights[static_cast<size_t>(x)] = triangle((x + first - center + 0.5) / filter_scale);
      total += weights[static_cast<size_t>(x)];
    }
    int32_t* fixed = axis.weights.data() + static_cast<size_t>(o) * static_cast<size_t>(axis.taps);
    for (int x = 0; x < used; ++x) {
      const double w =
          total != 0.0 ? weights[static_cast<size_t>(x)] / total : weights[static_cast<size_t>(x)];
      fixed[x] =
          static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    axis.start[static_cast<size_t>(o)] = first;
    axis.used[static_cast<size_t>(o)] = used;
  }
  return axis;
}

void resample_rgb(const uint8_t* source, size_t source_stride, const ResampleAxis& horizontal,
                  const ResampleAxis& vertical, uint8_t* out, std::vector<uint8_t>& scratch) {
  const int x0 = horizontal.first_input(), y0 = vertical.first_input();
  const int rows = vertical.end_input() - y0, columns = horizontal.count();
  const size_t temp_stride = static_cast<size_t>(columns) * 3;
  scratch.resize(temp_stride * static_cast<size_t>(rows));
  // Horizontal pass over every input row the vertical pass reads (Pillow: rows ybox_first..last).
  for (int y = 0; y < rows; ++y) {
    const uint8_t* in_row = source + static_cast<size_t>(y) * source_stride;
    uint8_t* temp_row = scratch.data() + static_cast<size_t>(y) * temp_stride;
    for (int o = 0; o < columns; ++o) {
      const int32_t* w =
          horizontal.weights.data() + static_cast<size_t>(o) * static_cast<size_t>(horizontal.taps);
      const uint8_t* in = in_row + static_cast<size_t>(horizontal.start[static_cast<size_t>(o)] - x0) * 3;
      int32_t r = 1 << (kPrecisionBits - 1), g = r, b = r;
      for (int t = 0; t < horizontal.used[static_cast<size_t>(o)]; ++t, in += 3) {
        r += in[0] * w[t];
        g += in[1] * w[t];
        b += in[2] * w[t];
      }
      temp_row[3 * o] = clip8(r);
      temp_row[3 * o + 1] = clip8(g);
      temp_row[3 * o + 2] = clip8(b);
    }
  }
  // Vertical pass: each output row is a weighted sum of whole intermediate rows.
  std::vector<int32_t> sums;
  sums.resize(temp_stride);
  for (int o = 0; o < vertical.count(); ++o) {
    const int32_t* w = vertical.weights.data() + static_cast<size_t>(o) * static_cast<size_t>(vertical.taps);
    std::fill(sums.begin(), sums.end(), 1 << (kPrecisionBits - 1));
    for (int t = 0; t < vertical.used[static_cast<size_t>(o)]; ++t) {
      const uint8_t* row =
          scratch.data() + static_cast<size_t>(vertical.start[static_cast<size_t>(o)] - y0 + t) * temp_stride;
      const int32_t weight = w[t];
      for (size_t i = 0; i < temp_stride; ++i) sums[i] += row[i] * weight;
    }
    uint8_t* out_row = out + static_cast<size_t>(o) * temp_stride;
    for (size_t i = 0; i < temp_stride; ++i) out_row[i] = clip8(sums[i]);
  }
}

}  // namespace hpa::image
