// Keyed dropout masks: element j of a sample's mask keeps its value when the top 24 bits of
// SplitMix64(base + j) are at least p * 2^24, base being derived from (key, layer).
#include "models/keyed_dropout.hpp"

#include "common/error.hpp"
#include "common/keyed_random.hpp"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <ostream>

namespace hpa::models {

KeyedDropoutImpl::KeyedDropoutImpl(double p, uint64_t layer) : p_(p), layer_(layer) {
  HPA_REQUIRE(p >= 0 && p < 1, "dropout must be in [0, 1), got " << p);
}

void keyed_dropout_mask(uint64_t key, uint64_t layer, double p, int64_t count, float* out) {
  const uint64_t threshold = static_cast<uint64_t>(std::llround(p * 16777216.0));
  const float kept = static_cast<float>(1.0 / (1.0 - p));
  const uint64_t base = splitmix64(splitmix64(key) ^ (layer * 0xD1B54A32D192ED03ull));
  for (int64_t j = 0; j < count; ++j)
    out[j] = (splitmix64(base + static_cast<uint64_t>(j)) >> 40) >= threshold ? kept : 0.0f;
}

torch::Tensor KeyedDropoutImpl::forward(torch::Tensor x) {
  if (!is_training() || p_ == 0.0) return x;
  const int64_t batch = x.size(0);
  HPA_INTERNAL_CHECK(static_cast<int64_t>(keys_.size()) == batch,
                     "keyed dropout: " << keys_.size() << " keys for a batch of " << batch);
  const int64_t per_sample = batch ? x.numel() / batch : 0;
  at::Tensor mask = at::empty(x.sizes(), at::TensorOptions().dtype(at::kFloat));
  float* data = mask.data_ptr<float>();
  at::parallel_for(0, batch, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      keyed_dropout_mask(keys_[static_cast<size_t>(b)], layer_, p_, per_sample, data + b * per_sample);
  });
  return x * mask.to(x.device(), x.scalar_type(), /*non_blocking=*/true);
}

void KeyedDropoutImpl::pretty_print(std::ostream& stream) const {
  stream << "hpa::models::KeyedDropout(p=" << p_ << ", layer=" << layer_ << ")";
}

}  // namespace hpa::models
