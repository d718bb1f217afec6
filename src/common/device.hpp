// The device of a rank, chosen once per process before anything touches a GPU: --device cpu, or
// cuda -> GPU (node-local rank % GPUs this process sees), made the calling thread's current device
// at once. Every later CUDA allocation of that thread (models, pinned batch memory, NCCL) then
// lands on it; otherwise each rank of a node would open a context on GPU 0 first.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hpa {

// How CUDA computes (no effect on the CPU). tf32: TF32 products in cuDNN convolutions, PyTorch's
// default (10-bit mantissas; false: full fp32). deterministic: deterministic cuDNN algorithms and no
// autotuning (cudnn.benchmark off): a run repeats bit for bit on the same GPU and software, slower.
struct CudaNumerics {
  bool tf32 = true;
  bool deterministic = false;
};

// `kind` is "cpu" or "cuda" (the option's value; `option` names it in errors, e.g. "--device").
// `local_rank` comes from the node-local communicator (comm::World::local_rank). Throws naming the
// option when this LibTorch has no CUDA or sees no GPU.
c10::Device select_rank_device(const std::string& kind, int local_rank, const std::string& option,
                               const CudaNumerics& numerics = {});

// "" when every seed group's ranks use distinct GPUs; else which ranks share one. Rank r of the
// world has node[r] (any id equal for ranks of one node), group[r] (its seed group) and gpu[r] (its
// CUDA device index on that node). NCCL needs one GPU per rank of a communicator.
std::string shared_gpu_in_group(const std::vector<int64_t>& node, const std::vector<int64_t>& group,
                                const std::vector<int64_t>& gpu);

// A short description for logs: "cpu" or "cuda:1 of 4 visible GPUs".
std::string describe_device(c10::Device device);

// Free memory of a GPU (the calling thread's current device, which select_rank_device made `device`),
// in bytes; empty on the CPU and in builds against a CPU-only LibTorch.
std::optional<int64_t> free_device_memory(c10::Device device);

// How many of a node's `local_size` ranks use the GPU of node-local rank `local_rank` when rank r
// takes GPU r % `gpus` (select_rank_device's choice).
int64_t ranks_sharing_gpu(int local_rank, int local_size, int64_t gpus);

}  // namespace hpa
