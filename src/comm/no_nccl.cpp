// The NCCL backend's place in builds without CUDA and NCCL (comm/nccl_reduction.cpp otherwise).
#include "comm/reduction.hpp"
#include "common/error.hpp"

namespace hpa::comm {

std::unique_ptr<Reduction> make_nccl_reduction(const Group&, int) {
  HPA_FAIL(
      "data-parallel training of CUDA tensors needs the NCCL backend, and this build has none "
      "(configure with -DHPA_WITH_NCCL=ON against a CUDA LibTorch)");
}

bool nccl_built() { return false; }

}  // namespace hpa::comm
