// free_device_memory() in builds against a CUDA LibTorch: the CUDA runtime's own count.
#include "common/device.hpp"

#include "common/error.hpp"

#include <cuda_runtime_api.h>

namespace hpa {

std::optional<int64_t> free_device_memory(c10::Device device) {
  if (!device.is_cuda()) return std::nullopt;
  int current = -1;
  HPA_REQUIRE(cudaGetDevice(&current) == cudaSuccess && current == device.index(),
              "the free memory of GPU " << static_cast<int>(device.index()) << " was asked while GPU "
                                        << current << " is current");
  size_t free_bytes = 0, total_bytes = 0;
  const cudaError_t status = cudaMemGetInfo(&free_bytes, &total_bytes);
  HPA_REQUIRE(status == cudaSuccess,
              "cudaMemGetInfo on GPU " << current << ": " << cudaGetErrorString(status));
  return static_cast<int64_t>(free_bytes);
}

}  // namespace hpa
