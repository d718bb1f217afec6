// MPI implementation of World and Group. Every MPI return code is checked.
#include "comm/communicator.hpp"

#include "comm/mpi_check.hpp"
#include "comm/native.hpp"
#include "common/cpus.hpp"
#include "common/error.hpp"
#include "common/process.hpp"

#include <mpi.h>

#include <ostream>

namespace hpa::comm {
namespace {

MPI_Datatype mpi_type(const at::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case at::kFloat:
      return MPI_FLOAT;
    case at::kDouble:
      return MPI_DOUBLE;
    case at::kLong:
      return MPI_INT64_T;
    case at::kInt:
      return MPI_INT32_T;
    case at::kByte:
      return MPI_UINT8_T;
    default:
      HPA_FAIL("no MPI type for tensors of " << tensor.scalar_type());
  }
}

void check_collective_tensor(const at::Tensor& tensor) {
  HPA_INTERNAL_CHECK(tensor.device().is_cpu(), "MPI collectives take CPU tensors");
  HPA_INTERNAL_CHECK(tensor.is_contiguous(), "MPI collectives take contiguous tensors");
  HPA_INTERNAL_CHECK(tensor.numel() <= std::numeric_limits<int>::max(), "tensor too large for one MPI call");
}

}  // namespace

struct Group::Impl {
  NativeComm native;
  ~Impl() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (native.handle != MPI_COMM_NULL && !finalized) MPI_Comm_free(&native.handle);
  }
};

Group::Group() = default;
Group::~Group() = default;
Group::Group(Group&&) noexcept = default;
Group& Group::operator=(Group&&) noexcept = default;

void Group::group_allreduce_sum(at::Tensor& tensor) const {
  check_collective_tensor(tensor);
  if (group_size_ == 1) return;
  HPA_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, tensor.data_ptr(), static_cast<int>(tensor.numel()),
                              mpi_type(tensor), MPI_SUM, impl_->native.handle));
}

void Group::group_broadcast(at::Tensor& tensor, int root) const {
  check_collective_tensor(tensor);
  if (group_size_ == 1) return;
  HPA_MPI_CHECK(MPI_Bcast(tensor.data_ptr(), static_cast<int>(tensor.numel()), mpi_type(tensor), root,
                          impl_->native.handle));
}

void Group::group_barrier() const {
  if (group_size_ > 1) HPA_MPI_CHECK(MPI_Barrier(impl_->native.handle));
}

void Group::group_sum(std::vector<double>& values) const {
  if (group_size_ == 1 || values.empty()) return;
  HPA_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE,
                              MPI_SUM, impl_->native.handle));
}

const NativeComm& Group::native() const { return impl_->native; }

World::World(int& argc, char**& argv) {
  int provided = 0;
  HPA_MPI_CHECK(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided));
  // Errors come back as codes that HPA_MPI_CHECK turns into exceptions naming rank and call.
  HPA_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  HPA_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_));
  HPA_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world_size_));
  set_multi_rank_job(world_size_ > 1);
  if (world_size_ > 1) set_rank_context(rank_label());
  MPI_Comm node = MPI_COMM_NULL;
  HPA_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank_, MPI_INFO_NULL, &node));
  HPA_MPI_CHECK(MPI_Comm_size(node, &local_size_));
  HPA_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  HPA_MPI_CHECK(MPI_Allreduce(&world_rank_, &node_id_, 1, MPI_INT, MPI_MIN, node));
  MPI_Comm_free(&node);
}

World::~World() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

Group World::split_groups(int num_groups) const {
  HPA_REQUIRE(num_groups >= 1 && world_size_ % num_groups == 0,
              "cannot split " << world_size_ << " ranks into " << num_groups << " equal seed groups");
  const int ranks_per_group = world_size_ / num_groups;
  Group group;
  group.impl_ = std::make_unique<Group::Impl>();
  group.group_index_ = world_rank_ / ranks_per_group;
  HPA_MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, group.group_index_, world_rank_, &group.impl_->native.handle));
  HPA_MPI_CHECK(MPI_Comm_rank(group.impl_->native.handle, &group.group_rank_));
  HPA_MPI_CHECK(MPI_Comm_size(group.impl_->native.handle, &group.group_size_));
  return group;
}

bool World::world_all(bool value) const {
  int local = value ? 1 : 0, all = 0;
  HPA_MPI_CHECK(MPI_Allreduce(&local, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD));
  return all != 0;
}

void World::world_barrier() const { HPA_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }

int64_t World::world_broadcast(int64_t value, int root) const {
  HPA_MPI_CHECK(MPI_Bcast(&value, 1, MPI_INT64_T, root, MPI_COMM_WORLD));
  return value;
}

std::vector<int64_t> World::world_allgather(int64_t value) const {
  std::vector<int64_t> all(static_cast<size_t>(world_size_));
  HPA_MPI_CHECK(MPI_Allgather(&value, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, MPI_COMM_WORLD));
  return all;
}

const NativeComm& World::native() const {
  static const NativeComm world{MPI_COMM_WORLD};
  return world;
}

std::string World::mpi_version() const {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(version, &length);
  std::string text(version, static_cast<size_t>(length));
  return text.substr(0, text.find_first_of("\n,"));
}

std::string World::rank_label() const {
  return "rank " + std::to_string(world_rank_) + " of " + std::to_string(world_size_) + " on " + host_name();
}

void World::print_from_every_rank(const std::string& line, std::ostream& out) const {
  int length = static_cast<int>(line.size());
  std::vector<int> lengths(static_cast<size_t>(world_size_)), offsets(static_cast<size_t>(world_size_));
  HPA_MPI_CHECK(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD));
  int total = 0;
  for (int r = 0; r < world_size_; ++r) {
    offsets[static_cast<size_t>(r)] = total;
    total += lengths[static_cast<size_t>(r)];
  }
  std::string all(static_cast<size_t>(is_world_root() ? total : 0), '\0');
  HPA_MPI_CHECK(MPI_Gatherv(line.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0,
                            MPI_COMM_WORLD));
  if (!is_world_root()) return;
  for (int r = 0; r < world_size_; ++r)
    out << all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]),
                      static_cast<size_t>(lengths[static_cast<size_t>(r)]))
        << "\n";
  out.flush();
}

void World::abort_world(int code) {
  if (is_initialized()) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

bool World::is_initialized() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

}  // namespace hpa::comm
