// Process-wide settings every hpa executable applies at start.
#pragma once

#include <string>

namespace hpa {

// Keeps freed large blocks in the heap instead of returning them to the kernel: LibTorch allocates
// and frees activation tensors of tens of MB every batch, and with glibc's default (mmap for
// blocks above a threshold that adapts only up to 32 MB, unmapped on free) each batch paid page faults:
// measured 40 s of system time in a 64 s hpa-reinit-grid run, 0.4 s with this setting.
void tune_allocator();

// Set by the MPI world when the job has more than one rank: an error then ends the whole job with
// MPI_Abort, and code unwinding towards that abort must not enter collective calls (an HDF5 close
// of a file written through MPI-IO waits for ranks that will never come).
void set_multi_rank_job(bool value);
bool multi_rank_job();

// "rank R of N on HOST" in a job of more than one rank (set by the MPI world), "" otherwise: every
// error line a main prints names the rank that raised it (cli::run_guarded).
void set_rank_context(const std::string& label);
const std::string& rank_context();

}  // namespace hpa
