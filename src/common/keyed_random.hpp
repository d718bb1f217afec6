// Counter-based randomness for data, dropout and re-randomisation: every draw is a pure function of (seed,
// epoch, index, stream), so sample order and augmentation do not depend on rank count, thread count or on
// where a run was resumed. SplitMix64 finalizers over the packed key.
#pragma once

#include <cstdint>
#include <vector>

namespace hpa {

enum class RandomStream : uint64_t {
  validation_split = 1,
  epoch_order = 2,
  augmentation = 3,
  dropout = 4,
  rerandomize = 5,
  label_noise = 6,
  pixel_shuffle = 7,
  class_subset = 8
};

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A 64-bit random word for the key (seed, epoch, index, stream).
inline uint64_t keyed_random(uint64_t seed, uint64_t epoch, uint64_t index, RandomStream stream) {
  uint64_t h = splitmix64(seed ^ (static_cast<uint64_t>(stream) << 56));
  h = splitmix64(h ^ epoch);
  return splitmix64(h ^ index);
}

// Uniform integer in [0, bound) from a random word (Lemire's multiply-shift; bias < bound / 2^64).
inline uint64_t bounded(uint64_t word, uint64_t bound) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(word) * bound) >> 64);
}

// A permutation of 0..n-1 (Fisher-Yates), the same for the same key on every machine.
std::vector<int64_t> keyed_permutation(int64_t n, uint64_t seed, uint64_t epoch, RandomStream stream);

}  // namespace hpa
