// How a model computes, apart from what it computes: the precision of its products (fp32, or bf16
// autocast with fp32 master weights) and the memory layout of its 4-D tensors. Both are properties
// of a ConvNet (set_numerics), so every caller of forward() — the training step, evaluation, the
// grid's baseline — runs the same way. LibTorch's autocast covers the CPU (oneDNN bf16) and CUDA.
#pragma once

#include <c10/core/DeviceType.h>

namespace hpa::models {

// fp32: float32 throughout (on CUDA, TF32 in cuDNN convolutions unless --tf32 false).
// bf16: autocast — convolutions and matrix products take bfloat16 copies of their inputs and
//   weights and accumulate in float32; everything autocast keeps in float32 stays so. Parameters,
//   gradients, optimizer state, gradient reduction, snapshots and checkpoints stay float32.
enum class Precision { fp32, bf16 };
// contiguous: NCHW. channels_last: NHWC strides for 4-D parameters and inputs (the same logical
//   tensors; Tensor Cores and oneDNN prefer it). Files always hold NCHW.
enum class MemoryFormat { contiguous, channels_last };

struct Numerics {
  Precision precision = Precision::fp32;
  MemoryFormat memory_format = MemoryFormat::contiguous;
};

// For its lifetime, autocast to bfloat16 on `device` when `precision` is bf16 (nothing for fp32).
// Scopes nest; the outermost one clears autocast's cache of cast weights on leaving, so each
// forward pass casts the current weights.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device, Precision precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_ = c10::DeviceType::CPU;
  bool was_enabled_ = false;
  int previous_dtype_ = 0;  // at::ScalarType, kept as int to keep ATen out of this header
};

}  // namespace hpa::models
