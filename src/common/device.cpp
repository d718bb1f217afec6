// Device selection; see device.hpp. Compiles against CPU and CUDA LibTorch alike: the current
// device is set through c10's device-guard registry, which a CUDA LibTorch fills.
#include "common/device.hpp"

#include "common/error.hpp"

#include <ATen/Context.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/cuda.h>

#include <algorithm>

namespace hpa {

c10::Device select_rank_device(const std::string& kind, int local_rank, const std::string& option,
                               const CudaNumerics& numerics) {
  if (kind == "cpu") return c10::kCPU;
  HPA_REQUIRE(kind == "cuda", option << " must be cpu or cuda, got '" << kind << "'");
  HPA_REQUIRE(torch::cuda::is_available(),
              option << " cuda: this LibTorch has no CUDA or sees no GPU (build against a CUDA LibTorch, see "
                        "env/spack.yaml)");
  const int64_t gpus = static_cast<int64_t>(torch::cuda::device_count());
  const c10::Device device(c10::kCUDA, static_cast<c10::DeviceIndex>(local_rank % gpus));
  c10::impl::getDeviceGuardImpl(c10::kCUDA)->setDevice(device);
  // Input shapes are fixed for a whole run: let cuDNN time its algorithms once and keep the fastest
  // (torch.backends.cudnn.benchmark = True in PyTorch), unless the run must repeat bit for bit.
  at::globalContext().setBenchmarkCuDNN(!numerics.deterministic);
  at::globalContext().setDeterministicCuDNN(numerics.deterministic);
  at::globalContext().setAllowTF32CuDNN(numerics.tf32);
  return device;
}

std::string shared_gpu_in_group(const std::vector<int64_t>& node, const std::vector<int64_t>& group,
                                const std::vector<int64_t>& gpu) {
  for (size_t a = 0; a < node.size(); ++a)
    for (size_t b = a + 1; b < node.size(); ++b)
      if (node[a] == node[b] && group[a] == group[b] && gpu[a] == gpu[b])
        return "ranks " + std::to_string(a) + " and " + std::to_string(b) + " of seed group " +
               std::to_string(group[a]) + " share GPU " + std::to_string(gpu[a]) + " of their node";
  return "";
}

int64_t ranks_sharing_gpu(int local_rank, int local_size, int64_t gpus) {
  if (gpus <= 0) return 1;
  int64_t sharing = 0;
  for (int r = 0; r < local_size; ++r) sharing += r % gpus == local_rank % gpus ? 1 : 0;
  return std::max<int64_t>(1, sharing);
}

std::string describe_device(c10::Device device) {
  if (!device.is_cuda()) return "cpu";
  return "cuda:" + std::to_string(device.index()) + " of " + std::to_string(torch::cuda::device_count()) +
         " visible GPU(s)";
}

}  // namespace hpa
