// hpa-pack --show: one sample of a pack after the training or evaluation transform, exactly as the
// loader hands it to the network (the same code), denormalized back to 8-bit RGB into a PNG.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace hpa::pack {

struct ShowOptions {
  std::string pack;
  std::string indices;  // one index, or a list and ranges ("0,5,9-12")
  std::string transform = "eval";  // or train
  int64_t seed = 0, epoch = 1;     // train: the draws of this seed and epoch
  int64_t image_size = 224, eval_resize = 256;
  bool dct_scaling = true;
  std::string png;  // with several indices, "{index}" in it is replaced by each index
};

// Writes the PNG(s) and prints one line per sample describing it and what the transform did.
void show_sample(const ShowOptions& options, std::ostream& log);

}  // namespace hpa::pack
