// Keyed permutations.
#include "common/keyed_random.hpp"

#include <cstddef>
#include <numeric>
#include <utility>

namespace hpa {

std::vector<int64_t> keyed_permutation(int64_t n, uint64_t seed, uint64_t epoch, RandomStream stream) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) {
    const uint64_t j =
        bounded(keyed_random(seed, epoch, static_cast<uint64_t>(i), stream), static_cast<uint64_t>(i) + 1);
    std::swap(order[static_cast<size_t>(i)], order[j]);
  }
  return order;
}

}  // namespace hpa
