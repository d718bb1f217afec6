// Normalizations; see samples.hpp.
#include "data/samples.hpp"

#include "common/error.hpp"

#include <algorithm>
#include <cmath>

namespace hpa::data {

NormalizationKind parse_normalization(const std::string& name) {
  if (name == "dataset") return NormalizationKind::dataset;
  if (name == "unit") return NormalizationKind::unit;
  if (name == "symmetric") return NormalizationKind::symmetric;
  if (name == "imagenet") return NormalizationKind::imagenet;
  HPA_FAIL("--normalize " << name << ": unknown normalization (dataset, unit, symmetric or imagenet)");
}

std::string normalization_name(NormalizationKind kind) {
  switch (kind) {
    case NormalizationKind::dataset:
      return "dataset";
    case NormalizationKind::unit:
      return "unit";
    case NormalizationKind::symmetric:
      return "symmetric";
    case NormalizationKind::imagenet:
      return "imagenet";
  }
  return "?";
}

Normalization constant_normalization(NormalizationKind kind, int64_t channels) {
  const size_t c = static_cast<size_t>(channels);
  switch (kind) {
    case NormalizationKind::unit:
      return {std::vector<float>(c, 0.0f), std::vector<float>(c, 1.0f)};
    case NormalizationKind::symmetric:
      return {std::vector<float>(c, 0.5f), std::vector<float>(c, 0.5f)};
    case NormalizationKind::imagenet:
      HPA_REQUIRE(channels == 3,
                  "--normalize imagenet needs RGB images, these have " << channels << " channel(s)");
      return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
    case NormalizationKind::dataset:
      break;
  }
  HPA_INTERNAL_CHECK(false, "dataset normalization is not a constant");
  return {};
}

Normalization normalization_from_histograms(const std::vector<std::vector<uint64_t>>& histograms) {
  Normalization result;
  for (const std::vector<uint64_t>& histogram : histograms) {
    HPA_INTERNAL_CHECK(histogram.size() == 256, "histogram of " << histogram.size() << " bins");
    // Exact integer sums: n * sum(v^2) - sum(v)^2 needs more than 64 bits for large sets.
    unsigned __int128 count = 0, sum = 0, sum_squares = 0;
    for (unsigned v = 0; v < 256; ++v) {
      count += histogram[v];
      sum += static_cast<unsigned __int128>(histogram[v]) * v;
      sum_squares += static_cast<unsigned __int128>(histogram[v]) * v * v;
    }
    HPA_REQUIRE(count > 0, "no pixels to compute the normalization from");
    const double n = static_cast<double>(count);
    const double mean = static_cast<double>(sum) / n / 255.0;
    const double variance = static_cast<double>(count * sum_squares - sum * sum) / (n * n) / (255.0 * 255.0);
    result.mean.push_back(static_cast<float>(mean));
    result.std.push_back(static_cast<float>(std::max(std::sqrt(variance), 1e-6)));
  }
  return result;
}

}  // namespace hpa::data
