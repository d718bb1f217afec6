// Work items, their costs and the farm's schedule.
#include "reinit/plan.hpp"

#include "common/error.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>

namespace hpa::reinit {
namespace {

// The most a layer's split may add to its work (repeated prefixes), as a share of it.
constexpr double kMaxOverhead = 0.1;

}  // namespace

double item_cost(const WorkItem& item, const CostModel& costs) {
  if (item.layer < 0) return costs.input + costs.full;
  const double cells = static_cast<double>(item.cells());
  if (costs.naive) return costs.input + cells * costs.full;
  const LayerCost& layer = costs.layers[static_cast<size_t>(item.layer)];
  return costs.input + layer.prefix + cells * layer.suffix;
}

std::vector<WorkItem> plan_items(int64_t seeds, int64_t columns, int64_t ranks, const CostModel& costs,
                                 int64_t cells_per_item) {
  HPA_REQUIRE(seeds >= 1 && columns >= 1 && ranks >= 1, "grid plan: empty grid");
  const int64_t num_layers = static_cast<int64_t>(costs.layers.size());
  // The chunks of one layer: as few as keep each item near the target, never more than the cells.
  double total = costs.full * static_cast<double>(seeds);
  for (int64_t l = 0; l < num_layers; ++l)
    total += static_cast<double>(seeds) *
             item_cost({0, l, 0, columns}, costs);
  const double target = total / (32.0 * static_cast<double>(ranks));
  std::vector<WorkItem> items;
  for (int64_t s = 0; s < seeds; ++s) {
    items.push_back({s, -1, 0, 0});
    for (int64_t l = 0; l < num_layers; ++l) {
      int64_t chunks = 1;
      if (cells_per_item > 0) {
        chunks = (columns + cells_per_item - 1) / cells_per_item;
      } else if (ranks == 1) {
        chunks = 1;  // nothing to balance: a split would only repeat prefixes
      } else if (!costs.naive) {
        // Split until an item costs at most the target, but never let the repeated prefixes add
        // more than kMaxOverhead to the layer's work: a layer whose prefix is most of its cost stays
        // whole (splitting it would mostly recompute the prefix).
        const LayerCost& layer = costs.layers[static_cast<size_t>(l)];
        const double whole = layer.prefix + static_cast<double>(columns) * layer.suffix;
        const int64_t most = layer.prefix > 0
                                 ? 1 + static_cast<int64_t>(std::floor(kMaxOverhead * whole / layer.prefix))
                                 : columns;
        while (chunks < std::min(most, columns) &&
               layer.prefix + std::ceil(static_cast<double>(columns) / static_cast<double>(chunks)) * layer.suffix >
                   target)
          ++chunks;
      } else {
        const double whole = static_cast<double>(columns) * costs.full;  // naive: no prefix to repeat
        chunks = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(whole / target)), 1, columns);
      }
      // Even chunks: sizes differ by at most one cell.
      const int64_t base = columns / chunks, extra = columns % chunks;
      int64_t first = 0;
      for (int64_t c = 0; c < chunks; ++c) {
        const int64_t size = base + (c < extra ? 1 : 0);
        items.push_back({s, l, first, first + size});
        first += size;
      }
    }
  }
  // Longest first; ties in (seed, layer, column) order so the plan is the same on every rank.
  std::stable_sort(items.begin(), items.end(), [&](const WorkItem& a, const WorkItem& b) {
    return item_cost(a, costs) > item_cost(b, costs);
  });
  return items;
}

double FarmSimulation::busy_fraction_at(double time) const {
  if (rank_end.empty()) return 0;
  const auto busy = std::count_if(rank_end.begin(), rank_end.end(), [&](double end) { return end >= time; });
  return static_cast<double>(busy) / static_cast<double>(rank_end.size());
}

FarmSimulation simulate_farm(const std::vector<WorkItem>& items, const CostModel& costs, int64_t ranks) {
  HPA_REQUIRE(ranks >= 1, "farm simulation: at least one rank");
  FarmSimulation result;
  result.rank_end.assign(static_cast<size_t>(ranks), 0.0);
  result.rank_items.assign(static_cast<size_t>(ranks), 0);
  // (time the rank is free, rank): the earliest-free rank asks first; ties by rank number.
  using Slot = std::pair<double, int64_t>;
  std::priority_queue<Slot, std::vector<Slot>, std::greater<Slot>> free_at;
  for (int64_t r = 0; r < ranks; ++r) free_at.push({0.0, r});
  for (const WorkItem& item : items) {
    const auto [time, rank] = free_at.top();
    free_at.pop();
    const double end = time + item_cost(item, costs);
    result.rank_end[static_cast<size_t>(rank)] = end;
    ++result.rank_items[static_cast<size_t>(rank)];
    free_at.push({end, rank});
  }
  result.wall = *std::max_element(result.rank_end.begin(), result.rank_end.end());
  return result;
}

}  // namespace hpa::reinit
