// The device of a rank, chosen once per process before anything touches a GPU: --device cpu, or
// cuda -> GPU (node-local rank % GPUs this process sees), made the calling thread's current device
// at once. Every later CUDA allocation of that thread (models, pinned batch memory, NCCL) then
// lands on it; otherwise each rank of a node would open a context on GPU 0 first.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace hpa {

// `kind` is "cpu" or "cuda" (the option's value; `option` names it in errors, e.g. "--device").
// `local_rank` comes from the node-local communicator (comm::World::local_rank). Throws naming the
// option when this LibTorch has no CUDA or sees no GPU.
c10::Device select_rank_device(const std::string& kind, int local_rank, const std::string& option);

// A short description for logs: "cpu" or "cuda:1 of 4 visible GPUs".
std::string describe_device(c10::Device device);

}  // namespace hpa
