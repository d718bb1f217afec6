// The NCCL gradient-reduction backend (compiled only with -DHPA_WITH_NCCL=ON, against a CUDA
// LibTorch): one ncclAllReduce per bucket on a side stream, ordered after the compute stream by
// events. The group's NCCL communicator is made here, its unique id handed out over MPI.
#include "comm/communicator.hpp"
#include "comm/reduction.hpp"
#include "common/error.hpp"

#include <ATen/Functions.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <nccl.h>

#include <cstring>
#include <optional>

namespace hpa::comm {
namespace {

// Throws "WHAT failed: NCCL's message"; the main adds the rank.
void check_nccl(ncclResult_t result, const char* what) {
  if (result != ncclSuccess) HPA_FAIL(what << " failed: " << ncclGetErrorString(result));
}

class NcclReduction final : public Reduction {
 public:
  NcclReduction(const Group& group, int device_index) {
    // NCCL binds its communicator to the current device: make it this rank's (local rank % GPUs),
    // or every rank of a node would claim GPU 0.
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(device_index));
    // Rank 0 of the group creates the id, MPI hands it out (as bytes), every rank of the group joins.
    ncclUniqueId id;
    std::memset(&id, 0, sizeof id);
    if (group.is_group_root())
      check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId (making the group's NCCL id)");
    at::Tensor bytes = at::empty({static_cast<int64_t>(sizeof id)}, at::kByte);
    std::memcpy(bytes.data_ptr(), &id, sizeof id);
    group.group_broadcast(bytes, 0);
    std::memcpy(&id, bytes.data_ptr(), sizeof id);
    check_nccl(ncclCommInitRank(&comm_, group.group_size(), id, group.group_rank()),
               "ncclCommInitRank (joining the seed group's NCCL communicator)");
    side_stream_ =
        c10::cuda::getStreamFromPool(/*isHighPriority=*/true, static_cast<c10::DeviceIndex>(device_index));
  }

  ~NcclReduction() override {
    if (comm_) ncclCommDestroy(comm_);
  }

  const char* name() const override { return "nccl"; }

  void start(at::Tensor& bucket) override {
    // The side stream starts once the compute stream has produced the bucket's gradients.
    at::cuda::CUDAEvent produced;
    produced.record(c10::cuda::getCurrentCUDAStream());
    produced.block(*side_stream_);
    check_nccl(
        ncclAllReduce(bucket.data_ptr<float>(), bucket.data_ptr<float>(), static_cast<size_t>(bucket.numel()),
                      ncclFloat, ncclSum, comm_, side_stream_->stream()),
        "ncclAllReduce (summing a gradient bucket over the seed group)");
  }

  // The compute stream continues (optimizer step) only after every bucket is reduced; NCCL
  // progresses on its own.
  void wait_all() override {
    at::cuda::CUDAEvent reduced;
    reduced.record(*side_stream_);
    reduced.block(c10::cuda::getCurrentCUDAStream());
  }

 private:
  ncclComm_t comm_ = nullptr;
  std::optional<c10::cuda::CUDAStream> side_stream_;
};

}  // namespace

std::unique_ptr<Reduction> make_nccl_reduction(const Group& group, int device_index) {
  return std::make_unique<NcclReduction>(group, device_index);
}

bool nccl_built() { return true; }

}  // namespace hpa::comm
