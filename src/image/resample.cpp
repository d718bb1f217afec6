// PIL-compatible bilinear resampling; see resample.hpp.
#include "image/resample.hpp"

#include "common/error.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

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

namespace {

constexpr int kRows = 8;  // rows the horizontal pass computes together, one per SIMD lane

// The horizontal pass for kRows rows at once: `block` holds them interleaved, byte k of row j at
// block[k * kRows + j], so that each tap is one multiply-add over kRows lanes. Integer sums are
// exact in any order: the result is Pillow's, bit for bit, with or without AVX2.
void horizontal_rows_scalar(const uint8_t* block, const ResampleAxis& axis, int first_input, uint8_t* out,
                            size_t out_stride) {
  for (int o = 0; o < axis.count(); ++o) {
    int32_t sums[3][kRows];
    for (auto& channel : sums)
      for (int32_t& sum : channel) sum = 1 << (kPrecisionBits - 1);
    const int32_t* w = axis.weights.data() + static_cast<size_t>(o) * static_cast<size_t>(axis.taps);
    const uint8_t* in =
        block + static_cast<size_t>(axis.start[static_cast<size_t>(o)] - first_input) * 3 * kRows;
    for (int t = 0; t < axis.used[static_cast<size_t>(o)]; ++t, in += 3 * kRows)
      for (int c = 0; c < 3; ++c)
        for (int j = 0; j < kRows; ++j) sums[c][j] += in[c * kRows + j] * w[t];
    for (int j = 0; j < kRows; ++j)
      for (int c = 0; c < 3; ++c)
        out[static_cast<size_t>(j) * out_stride + static_cast<size_t>(o) * 3 + c] = clip8(sums[c][j]);
  }
}

__attribute__((target("avx2"))) void horizontal_rows_avx2(const uint8_t* block, const ResampleAxis& axis,
                                                          int first_input, uint8_t* out, size_t out_stride) {
  const __m256i half = _mm256_set1_epi32(1 << (kPrecisionBits - 1));
  const __m256i zero = _mm256_setzero_si256(), top = _mm256_set1_epi32(255);
  alignas(32) int32_t values[3][kRows];
  for (int o = 0; o < axis.count(); ++o) {
    __m256i sums[3] = {half, half, half};
    const int32_t* w = axis.weights.data() + static_cast<size_t>(o) * static_cast<size_t>(axis.taps);
    const uint8_t* in =
        block + static_cast<size_t>(axis.start[static_cast<size_t>(o)] - first_input) * 3 * kRows;
    for (int t = 0; t < axis.used[static_cast<size_t>(o)]; ++t, in += 3 * kRows) {
      const __m256i weight = _mm256_set1_epi32(w[t]);
      for (int c = 0; c < 3; ++c) {
        const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(in + c * kRows));
        sums[c] = _mm256_add_epi32(sums[c], _mm256_mullo_epi32(_mm256_cvtepu8_epi32(bytes), weight));
      }
    }
    for (int c = 0; c < 3; ++c)  // clip8: the shifted sum clamped to 0..255
      _mm256_store_si256(
          reinterpret_cast<__m256i*>(values[c]),
          _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(sums[c], kPrecisionBits), zero), top));
    for (int j = 0; j < kRows; ++j) {
      uint8_t* pixel = out + static_cast<size_t>(j) * out_stride + static_cast<size_t>(o) * 3;
      pixel[0] = static_cast<uint8_t>(values[0][j]);
      pixel[1] = static_cast<uint8_t>(values[1][j]);
      pixel[2] = static_cast<uint8_t>(values[2][j]);
    }
  }
}

// The horizontal pass for one row (the rows left over after the blocks of kRows).
void horizontal_row(const uint8_t* in_row, const ResampleAxis& axis, int first_input, uint8_t* out) {
  for (int o = 0; o < axis.count(); ++o) {
    const int32_t* w = axis.weights.data() + static_cast<size_t>(o) * static_cast<size_t>(axis.taps);
    const uint8_t* in = in_row + static_cast<size_t>(axis.start[static_cast<size_t>(o)] - first_input) * 3;
    int32_t r = 1 << (kPrecisionBits - 1), g = r, b = r;
    for (int t = 0; t < axis.used[static_cast<size_t>(o)]; ++t, in += 3) {
      r += in[0] * w[t];
      g += in[1] * w[t];
      b += in[2] * w[t];
    }
    out[3 * o] = clip8(r);
    out[3 * o + 1] = clip8(g);
    out[3 * o + 2] = clip8(b);
  }
}

// block[k * kRows + j] = rows[j][k] for k < count: kRows rows interleaved byte by byte.
void interleave_rows(const uint8_t* first_row, size_t stride, size_t count, uint8_t* block) {
  size_t k = 0;
#if defined(__SSE2__)
  for (; k + 16 <= count; k += 16) {  // an 8 x 16 byte transpose in three rounds of unpacking
    __m128i r[kRows];
    for (int j = 0; j < kRows; ++j)
      r[j] =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(first_row + static_cast<size_t>(j) * stride + k));
    __m128i pairs[8], quads[8];
    for (int j = 0; j < 4; ++j) {
      pairs[2 * j] = _mm_unpacklo_epi8(r[2 * j], r[2 * j + 1]);
      pairs[2 * j + 1] = _mm_unpackhi_epi8(r[2 * j], r[2 * j + 1]);
    }
    for (int half = 0; half < 2; ++half) {  // bytes 0..7 and 8..15 of the rows
      quads[4 * half] = _mm_unpacklo_epi16(pairs[half], pairs[2 + half]);
      quads[4 * half + 1] = _mm_unpackhi_epi16(pairs[half], pairs[2 + half]);
      quads[4 * half + 2] = _mm_unpacklo_epi16(pairs[4 + half], pairs[6 + half]);
      quads[4 * half + 3] = _mm_unpackhi_epi16(pairs[4 + half], pairs[6 + half]);
    }
    __m128i* out = reinterpret_cast<__m128i*>(block + k * kRows);
    for (int half = 0; half < 2; ++half)
      for (int q = 0; q < 2; ++q) {
        _mm_storeu_si128(out++, _mm_unpacklo_epi32(quads[4 * half + q], quads[4 * half + 2 + q]));
        _mm_storeu_si128(out++, _mm_unpackhi_epi32(quads[4 * half + q], quads[4 * half + 2 + q]));
      }
  }
#endif
  for (; k < count; ++k)
    for (int j = 0; j < kRows; ++j)
      block[k * kRows + static_cast<size_t>(j)] = first_row[static_cast<size_t>(j) * stride + k];
}

// One output row of the vertical pass: out[i] = clip8(sum over taps of rows[t][i] * w[t]).
void vertical_row_scalar(const uint8_t* const* rows, const int32_t* w, int used, size_t count, uint8_t* out) {
  for (size_t i = 0; i < count; ++i) {
    int32_t sum = 1 << (kPrecisionBits - 1);
    for (int t = 0; t < used; ++t) sum += rows[t][i] * w[t];
    out[i] = clip8(sum);
  }
}

__attribute__((target("avx2"))) void vertical_row_avx2(const uint8_t* const* rows, const int32_t* w, int used,
                                                       size_t count, uint8_t* out) {
  const __m256i half = _mm256_set1_epi32(1 << (kPrecisionBits - 1));
  const __m256i zero = _mm256_setzero_si256(), top = _mm256_set1_epi32(255);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256i sum = half;
    for (int t = 0; t < used; ++t) {
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(rows[t] + i));
      sum = _mm256_add_epi32(sum, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(bytes), _mm256_set1_epi32(w[t])));
    }
    const __m256i clipped =
        _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(sum, kPrecisionBits), zero), top);
    const __m256i words = _mm256_packus_epi32(clipped, clipped);  // per 128-bit half: 4 values, twice
    const __m256i bytes = _mm256_packus_epi16(words, words);
    const uint32_t low = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm256_castsi256_si128(bytes)));
    const uint32_t high = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm256_extracti128_si256(bytes, 1)));
    std::memcpy(out + i, &low, 4);
    std::memcpy(out + i + 4, &high, 4);
  }
  vertical_row_scalar(rows, w, used, count - i, out + i);  // the rows' remaining bytes
}

// Normalizes the first pixels of an RGB row into three planes, 8 at a time, with the scalar code's
// float operations (so the same results); returns how many pixels it wrote.
__attribute__((target("avx2"))) size_t normalize_row_avx2(const uint8_t* row, size_t width,
                                                          const ChannelNormalization& n, bool mirror,
                                                          float* const* planes) {
  // For 8 pixels (24 bytes): the bytes of channel c sit at 3k + c. The first shuffle takes those
  // below 16 from bytes 0..15, the second those from 16 on out of bytes 8..23.
  alignas(16) static const int8_t low_masks[3][16] = {
      {0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
      {1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
      {2, 5, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}};
  alignas(16) static const int8_t high_masks[3][16] = {
      {-1, -1, -1, -1, -1, -1, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1},
      {-1, -1, -1, -1, -1, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1},
      {-1, -1, -1, -1, -1, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1}};
  const __m256 scale = _mm256_set1_ps(255.0f);
  const __m256i reverse = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
  size_t x = 0;
  for (; x + 8 <= width; x += 8) {
    const __m128i low = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 3 * x));
    const __m128i high = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 3 * x + 8));
    for (int c = 0; c < 3; ++c) {
      const __m128i bytes = _mm_or_si128(
          _mm_shuffle_epi8(low, _mm_load_si128(reinterpret_cast<const __m128i*>(low_masks[c]))),
          _mm_shuffle_epi8(high, _mm_load_si128(reinterpret_cast<const __m128i*>(high_masks[c]))));
      __m256 value = _mm256_div_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)), scale);
      value = _mm256_div_ps(_mm256_sub_ps(value, _mm256_set1_ps(n.mean[c])), _mm256_set1_ps(n.std[c]));
      if (mirror)
        _mm256_storeu_ps(planes[c] + width - 8 - x, _mm256_permutevar8x32_ps(value, reverse));
      else
        _mm256_storeu_ps(planes[c] + x, value);
    }
  }
  return x;
}

// The horizontal pass into `temp` (one intermediate row per input row the vertical pass reads,
// Pillow's ybox_first..ybox_last), then `emit(o, row)` for every output row of the vertical pass.
template <typename Emit>
void resample(const uint8_t* source, size_t source_stride, const ResampleAxis& horizontal,
              const ResampleAxis& vertical, std::vector<uint8_t>& scratch, Emit emit) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  const int x0 = horizontal.first_input(), y0 = vertical.first_input();
  const int rows = vertical.end_input() - y0;
  const size_t temp_stride = static_cast<size_t>(horizontal.count()) * 3;
  const size_t row_bytes = static_cast<size_t>(horizontal.end_input() - x0) * 3;
  // scratch: the intermediate rows, one interleaved block of kRows input rows, one output row.
  const size_t temp_bytes = temp_stride * static_cast<size_t>(rows);
  scratch.resize(temp_bytes + row_bytes * kRows + temp_stride);
  uint8_t* temp = scratch.data();
  uint8_t* block = temp + temp_bytes;
  uint8_t* row = block + row_bytes * kRows;
  int y = 0;
  for (; y + kRows <= rows; y += kRows) {
    interleave_rows(source + static_cast<size_t>(y) * source_stride, source_stride, row_bytes, block);
    (avx2 ? horizontal_rows_avx2 : horizontal_rows_scalar)(
        block, horizontal, x0, temp + static_cast<size_t>(y) * temp_stride, temp_stride);
  }
  for (; y < rows; ++y)
    horizontal_row(source + static_cast<size_t>(y) * source_stride, horizontal, x0,
                   temp + static_cast<size_t>(y) * temp_stride);
  std::vector<const uint8_t*> taps(static_cast<size_t>(vertical.taps));
  for (int o = 0; o < vertical.count(); ++o) {
    const int used = vertical.used[static_cast<size_t>(o)];
    for (int t = 0; t < used; ++t)
      taps[static_cast<size_t>(t)] =
          temp + static_cast<size_t>(vertical.start[static_cast<size_t>(o)] - y0 + t) * temp_stride;
    const int32_t* w = vertical.weights.data() + static_cast<size_t>(o) * static_cast<size_t>(vertical.taps);
    (avx2 ? vertical_row_avx2 : vertical_row_scalar)(taps.data(), w, used, temp_stride, row);
    emit(o, row);
  }
}

}  // namespace

void resample_rgb(const uint8_t* source, size_t source_stride, const ResampleAxis& horizontal,
                  const ResampleAxis& vertical, uint8_t* out, std::vector<uint8_t>& scratch) {
  const size_t stride = static_cast<size_t>(horizontal.count()) * 3;
  resample(source, source_stride, horizontal, vertical, scratch, [&](int o, const uint8_t* row) {
    std::memcpy(out + static_cast<size_t>(o) * stride, row, stride);
  });
}

void resample_rgb_to_planes(const uint8_t* source, size_t source_stride, const ResampleAxis& horizontal,
                            const ResampleAxis& vertical, const ChannelNormalization& normalization,
                            bool mirror, float* out, std::vector<uint8_t>& scratch) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  const size_t width = static_cast<size_t>(horizontal.count());
  const size_t plane = width * static_cast<size_t>(vertical.count());
  resample(source, source_stride, horizontal, vertical, scratch, [&](int o, const uint8_t* row) {
    float* planes[3] = {out + static_cast<size_t>(o) * width, out + plane + static_cast<size_t>(o) * width,
                        out + 2 * plane + static_cast<size_t>(o) * width};
    const size_t done = avx2 ? normalize_row_avx2(row, width, normalization, mirror, planes) : 0;
    for (size_t x = done; x < width; ++x) {
      const size_t to = mirror ? width - 1 - x : x;
      for (int c = 0; c < 3; ++c)
        planes[c][to] =
            (static_cast<float>(row[3 * x + static_cast<size_t>(c)]) / 255.0f - normalization.mean[c]) /
            normalization.std[c];
    }
  });
}

}  // namespace hpa::image
