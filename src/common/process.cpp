// glibc malloc tuning and the job-wide facts errors need; see process.hpp.
#include "common/process.hpp"

#include <malloc.h>

#include <atomic>

namespace hpa {

namespace {
std::atomic<bool> g_multi_rank{false};
std::string g_rank_context;  // set once by the MPI world, before any thread starts
}  // namespace

void set_multi_rank_job(bool value) { g_multi_rank = value; }
bool multi_rank_job() { return g_multi_rank; }

void set_rank_context(const std::string& label) { g_rank_context = label; }
const std::string& rank_context() { return g_rank_context; }

void tune_allocator() {
  // Blocks up to 1 GiB come from the heap, and up to 1 GiB of free heap top is kept for reuse.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace hpa
