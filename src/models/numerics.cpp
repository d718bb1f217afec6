// Autocast scopes; see numerics.hpp. LibTorch 2.4 replaced the per-device autocast functions
// (set_cpu_enabled, set_autocast_gpu_dtype, ...) with ones taking the device type.
#include "models/numerics.hpp"

#include "common/error.hpp"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace hpa::models {
namespace {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool enabled(c10::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
void set_enabled(c10::DeviceType d, bool on) { at::autocast::set_autocast_enabled(d, on); }
at::ScalarType dtype(c10::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
void set_dtype(c10::DeviceType d, at::ScalarType t) { at::autocast::set_autocast_dtype(d, t); }
#else
bool enabled(c10::DeviceType d) {
  return d == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_enabled(c10::DeviceType d, bool on) {
  if (d == c10::DeviceType::CUDA)
    at::autocast::set_enabled(on);
  else
    at::autocast::set_cpu_enabled(on);
}
at::ScalarType dtype(c10::DeviceType d) {
  return d == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                    : at::autocast::get_autocast_cpu_dtype();
}
void set_dtype(c10::DeviceType d, at::ScalarType t) {
  if (d == c10::DeviceType::CUDA)
    at::autocast::set_autocast_gpu_dtype(t);
  else
    at::autocast::set_autocast_cpu_dtype(t);
}
#endif

}  // namespace

AutocastScope::AutocastScope(c10::DeviceType device, Precision precision) : device_(device) {
  if (precision == Precision::fp32) return;
  HPA_REQUIRE(device == c10::DeviceType::CPU || device == c10::DeviceType::CUDA,
              "bf16 autocast: only on the CPU or CUDA, not " << c10::DeviceTypeName(device));
  active_ = true;
  was_enabled_ = enabled(device);
  previous_dtype_ = static_cast<int>(dtype(device));
  set_enabled(device, true);
  set_dtype(device, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_enabled(device_, was_enabled_);
  set_dtype(device_, static_cast<at::ScalarType>(previous_dtype_));
}

}  // namespace hpa::models
