// The door a gradient-reduction backend implements. GradientReducer packs gradients into buckets
// and hands each full bucket to its Reduction, which sums it in place over the seed group. MPI
// (comm/mpi_reduction.cpp) reduces CPU tensors; NCCL (comm/nccl_reduction.cpp, compiled only in
// CUDA builds; comm/no_nccl.cpp otherwise) reduces CUDA tensors. Another backend (Gloo, a
// CUDA-aware MPI) is one more implementation and one more factory here.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>

namespace hpa::comm {

class Group;

class Reduction {
 public:
  virtual ~Reduction() = default;
  virtual const char* name() const = 0;  // "mpi", "nccl"
  // Starts the in-place sum of `bucket` (float32, contiguous) over the group. Every rank starts the
  // same buckets in the same order.
  virtual void start(at::Tensor& bucket) = 0;
  // Lets started sums advance while backward runs (MPI progresses only inside MPI calls).
  virtual void progress() {}
  // When this returns, every started bucket holds the group sum for whatever runs next on its
  // device; the next step starts with nothing in flight.
  virtual void wait_all() = 0;
};

// CPU tensors, over the group's MPI communicator.
std::unique_ptr<Reduction> make_mpi_reduction(const Group& group);
// CUDA tensors on device `device_index`, over an NCCL communicator of the group (every rank of the
// group calls it). Throws hpa::Error in builds without NCCL.
std::unique_ptr<Reduction> make_nccl_reduction(const Group& group, int device_index);
// Whether this build has the NCCL backend.
bool nccl_built();

}  // namespace hpa::comm
