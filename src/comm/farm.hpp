// A dynamic MPI work farm: rank 0 hands out work items one at a time, collects each item's result
// (a vector of doubles), and also works itself, answering requests between its own work steps.
// Ranks that finish early get more. Any number of ranks works, 1 included. The farm can be stopped
// (a signal before a time limit): it then hands out nothing more, abandons the items in progress,
// and every rank learns that the farm did not finish.
#pragma once

#include "comm/communicator.hpp"

#include <cstdint>
#include <functional>
#include <vector>

namespace hpa::comm {

struct FarmCallbacks {
  // Every rank: computes one item. Must call `service()` often (e.g. once per batch): on rank 0
  // that answers the other ranks; on every rank it abandons the item (by throwing an exception the
  // farm catches; the work must be exception-safe) once the farm is stopping.
  std::function<std::vector<double>(int64_t item, const std::function<void()>& service)> work;
  // Rank 0 only: one finished item (called on rank 0's thread, in completion order).
  std::function<void(int64_t item, const std::vector<double>& result)> on_result;
  // Every rank, optional: true once this rank is asked to stop. One rank asking stops the farm.
  std::function<bool()> stop_requested;
};

// Every rank: runs `items` (item indices) through the farm. Returns true when every item is done,
// false on every rank when the farm stopped on request (every item finished before the stop has
// been passed to on_result; the abandoned ones have not). An exception on any rank other than the
// stop aborts the job (the mains' guard).
bool run_farm(const World& world, const std::vector<int64_t>& items, const FarmCallbacks& callbacks);

}  // namespace hpa::comm
