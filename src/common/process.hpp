// Process-wide settings every hpa executable applies at start.
#pragma once

namespace hpa {

// Keeps freed large blocks in the heap instead of returning them to the kernel: LibTorch allocates
// and frees activation tensors of tens of MB every batch, and with glibc's default (mmap for
// blocks above a threshold that adapts only up to 32 MB, unmapped on free) each batch paid page faults:
// measured 40 s of system time in a 64 s hpa-reinit-grid run, 0.4 s with this setting.
void tune_allocator();

}  // namespace hpa
