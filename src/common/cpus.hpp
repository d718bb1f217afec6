// The CPUs a rank may run on (its affinity mask, as Slurm's task/affinity or mpirun's binding set
// it) and how many compute threads it starts there. Owns the rule that a rank never starts more
// compute threads than its CPUs unless told to; not the decoding threads (docs/slurm.md).
#pragma once

#include <cstdint>
#include <string>

namespace hpa {

struct ThreadChoice {
  int threads = 1;         // compute threads (at::set_num_threads)
  int cpus = 1;            // CPUs in this process's affinity mask
  std::string cpu_list;    // those CPUs, e.g. "0-3,8"
  std::string source;      // where `threads` came from: "--threads", "SLURM_CPUS_PER_TASK=8", ...
};

// --threads `requested` (> 0), else SLURM_CPUS_PER_TASK, else the affinity mask's CPUs (shared by
// the `local_ranks` ranks of the node when the mask is the whole machine, i.e. nothing bound them).
// Throws, naming where the count came from and `rank_label`, when that is more than the mask's CPUs
// and `allow_oversubscribe` is false.
ThreadChoice choose_threads(int64_t requested, int local_ranks, bool allow_oversubscribe,
                            const std::string& rank_label);

// One line per rank for the job's log: "rank 1 of 4 on node2 (local rank 1 of 2): 2 compute
// thread(s) (SLURM_CPUS_PER_TASK=2) on 2 CPU(s) 2-3, device cpu".
std::string placement_line(const std::string& rank_label, int local_rank, int local_size, const ThreadChoice& threads,
                           const std::string& device);

// The CPUs of this process's affinity mask (sched_getaffinity), as a count and as a list.
int affinity_cpu_count();
std::string affinity_cpu_list();

// This machine's host name (the node's, inside a namespace).
std::string host_name();

}  // namespace hpa
