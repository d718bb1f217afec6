// Dropout whose mask is a pure function of the sample: the mask of sample b in dropout layer L is
// drawn from the key the trainer gives that sample (from seed, epoch and the sample's place in the
// training set), never from a generator that advances with the batch. A sample gets the same mask
// whichever rank and thread process it and wherever a run was resumed, so 1 and N ranks train the
// same network (torch's Dropout draws per rank, in batch order).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

namespace hpa::models {

class KeyedDropoutImpl : public torch::nn::Module {
 public:
  // `p`: probability of zeroing an element; `layer`: tells this layer's masks from the others'.
  KeyedDropoutImpl(double p, uint64_t layer);

  // Training: x * mask / (1 - p) with the keys set by set_keys (one per sample of x, required
  // when p > 0); evaluation: x unchanged.
  torch::Tensor forward(torch::Tensor x);
  void set_keys(std::vector<uint64_t> keys) { keys_ = std::move(keys); }
  double p() const { return p_; }

  void pretty_print(std::ostream& stream) const override;

 private:
  double p_;
  uint64_t layer_;
  std::vector<uint64_t> keys_;
};
TORCH_MODULE(KeyedDropout);

// The mask values of one sample (0 or 1 / (1 - p), `count` of them) for `key` in `layer`.
void keyed_dropout_mask(uint64_t key, uint64_t layer, double p, int64_t count, float* out);

}  // namespace hpa::models
