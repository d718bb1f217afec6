// The one owner of MPI in hpa: world setup, seed groups, and the collectives training needs.
// Method names say who takes part: world_* (every rank), group_* (the ranks of one seed group).
// mpi.h stays inside src/comm; callers see tensors and integers only.
#pragma once

#include "comm/native_fwd.hpp"

#include <ATen/core/Tensor.h>

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace hpa::comm {

// A seed group: the ranks that train one seed together, data-parallel.
class Group {
 public:
  Group();
  ~Group();
  Group(Group&&) noexcept;
  Group& operator=(Group&&) noexcept;

  int group_rank() const { return group_rank_; }
  int group_size() const { return group_size_; }
  int group_index() const { return group_index_; }  // which seed group this rank belongs to
  bool is_group_root() const { return group_rank_ == 0; }

  // In place, every rank of the group: sum of `tensor` (CPU, contiguous) over the group.
  void group_allreduce_sum(at::Tensor& tensor) const;
  // Every rank of the group: `tensor` takes group rank `root`'s value.
  void group_broadcast(at::Tensor& tensor, int root) const;
  void group_barrier() const;
  // Every rank of the group: the sums of `values` over the group, in place.
  void group_sum(std::vector<double>& values) const;
  // The group's MPI communicator, for a library that speaks MPI itself (HDF5's MPI-IO driver).
  const NativeComm& native() const;

 private:
  friend class World;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int group_rank_ = 0, group_size_ = 1, group_index_ = 0;
};

// MPI_Init on construction, MPI_Finalize on destruction. One per process.
class World {
 public:
  World(int& argc, char**& argv);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }
  bool is_world_root() const { return world_rank_ == 0; }
  // Ranks on this node (from MPI_COMM_TYPE_SHARED), and this rank's place among them.
  int local_size() const { return local_size_; }
  int local_rank() const { return local_rank_; }
  // The same for every rank of this node: the lowest world rank on it.
  int node_id() const { return node_id_; }

  // Every rank: splits the world into `num_groups` contiguous groups of equal size.
  Group split_groups(int num_groups) const;
  // Every rank: logical AND of `value` across the world (collective error agreement).
  bool world_all(bool value) const;
  void world_barrier() const;
  // Every rank: rank `root`'s value.
  int64_t world_broadcast(int64_t value, int root) const;
  // Every rank: every rank's `value`, in rank order.
  std::vector<int64_t> world_allgather(int64_t value) const;
  std::string mpi_version() const;
  // "rank R of N on HOST": how errors and reports name this rank.
  std::string rank_label() const;
  // Every rank: rank 0 writes each rank's `line` to `out`, in rank order (one line per rank).
  void print_from_every_rank(const std::string& line, std::ostream& out) const;
  // MPI_COMM_WORLD, for a library that speaks MPI itself (HDF5's MPI-IO driver).
  const NativeComm& native() const;

  // Ends every rank of the job now (MPI_Abort); used by mains on an error.
  [[noreturn]] static void abort_world(int code);
  static bool is_initialized();

 private:
  int world_rank_ = 0, world_size_ = 1, local_size_ = 1, local_rank_ = 0, node_id_ = 0;
};

}  // namespace hpa::comm
