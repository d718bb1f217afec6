// A dynamic MPI work farm: rank 0 hands out work items one at a time, collects each item's result
// (a vector of doubles), and also works itself, answering requests between its own work steps.
// Ranks that finish early get more. Any number of ranks works, 1 included.
#pragma once

#include "comm/communicator.hpp"

#include <cstdint>
#include <functional>
#include <vector>

namespace hpa::comm {

struct FarmCallbacks {
  // Every rank: computes one item. Must call `service()` often (e.g. once per batch): on rank 0
  // that answers the other ranks; elsewhere it does nothing.
  std::function<std::vector<double>(int64_t item, const std::function<void()>& service)> work;
  // Rank 0 only: one finished item (called on rank 0's thread, in completion order).
  std::function<void(int64_t item, const std::vector<double>& result)> on_result;
};

// Every rank: runs `items` (item indices) through the farm. Returns when all are done and every
// rank has been told to stop. An exception on any rank aborts the job (the mains' guard).
void run_farm(const World& world, const std::vector<int64_t>& items, const FarmCallbacks& callbacks);

}  // namespace hpa::comm
