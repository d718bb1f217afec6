// The grid's work items and the farm's schedule of them. A layer's cells (its reset epochs and
// re-randomizations) are split into chunks where that pays: a fused item costs one prefix pass
// (the layers before the reset one) plus one suffix pass per cell, so a layer is split into items
// no costlier than a target, as far as the repeated prefixes add at most 10 % to its work; a layer
// whose prefix dominates stays whole. Items
// go out longest first (the farm hands them out in this order to whichever rank asks), which keeps
// every rank busy until close to the end. The same plan drives the farm and simulate_farm().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hpa::reinit {

// Seconds (or any unit, e.g. FLOPs) one evaluation of the whole test set costs.
struct LayerCost {
  double prefix = 0;  // the layers before the reset one, once per item
  double suffix = 0;  // the reset layer and everything after it, once per cell
};
struct CostModel {
  double full = 0;  // the unchanged model (baseline item); naive cells cost this each
  std::vector<LayerCost> layers;
  // Reading and decoding the whole test set, which every item repeats (measured only: 0 in FLOP
  // estimates). Added in full: the loader's threads share the rank's CPUs with the model.
  double input = 0;
  bool naive = false;
  int64_t activation_bytes = 0;  // per image at the model's widest point (estimate_costs only)
};

struct WorkItem {
  int64_t seed_index = 0;
  int64_t layer = -1;  // -1: the seed's baseline (unchanged model); else position in the run's layers
  int64_t first_column = 0, last_column = 0;  // cells [first, last) of the layer's columns
  int64_t cells() const { return last_column - first_column; }
};

double item_cost(const WorkItem& item, const CostModel& costs);

// Every (seed, layer) split into chunks for `ranks` ranks (target item cost: total / (32 x ranks),
// so that the last items handed out are small against a rank's share);
// `cells_per_item` > 0 forces that chunk size instead. Sorted longest first.
std::vector<WorkItem> plan_items(int64_t seeds, int64_t columns, int64_t ranks, const CostModel& costs,
                                 int64_t cells_per_item = 0);


struct FarmSimulation {
  double wall = 0;                 // when the last rank finishes
  std::vector<double> rank_end;    // when each rank finished its last item
  std::vector<int64_t> rank_items;
  double busy_fraction_at(double time) const;  // share of ranks still working at `time`
};

// The farm's schedule of `items` on `ranks` ranks: each rank takes the next item in order as soon
// as it is free (rank 0 included, as in comm::run_farm), each item costing item_cost().
FarmSimulation simulate_farm(const std::vector<WorkItem>& items, const CostModel& costs, int64_t ranks);

}  // namespace hpa::reinit
