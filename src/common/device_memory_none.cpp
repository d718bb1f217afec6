// free_device_memory() in builds against a CPU-only LibTorch: nothing to ask.
#include "common/device.hpp"

namespace hpa {

std::optional<int64_t> free_device_memory(c10::Device) { return std::nullopt; }

}  // namespace hpa
