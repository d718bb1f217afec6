// Affinity masks and the thread rule; see cpus.hpp.
#include "common/cpus.hpp"

#include "common/error.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <vector>

namespace hpa {
namespace {

std::vector<int> affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;  // unknown: callers fall back
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

}  // namespace

int affinity_cpu_count() {
  const std::vector<int> cpus = affinity_cpus();
  return cpus.empty() ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))
                      : static_cast<int>(cpus.size());
}

std::string affinity_cpu_list() {
  const std::vector<int> cpus = affinity_cpus();
  std::string text;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    text += (text.empty() ? "" : ",") + std::to_string(cpus[i]);
    if (j > i) text += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return text.empty() ? "unknown" : text;
}

std::string placement_line(const std::string& rank_label, int local_rank, int local_size, const ThreadChoice& threads,
                           const std::string& device) {
  return rank_label + " (local rank " + std::to_string(local_rank) + " of " + std::to_string(local_size) +
         "): " + std::to_string(threads.threads) + " compute thread(s) (" + threads.source + ") on " +
         std::to_string(threads.cpus) + " CPU(s) " + threads.cpu_list + ", device " + device;
}

std::string host_name() {
  char name[256] = {0};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

ThreadChoice choose_threads(int64_t requested, int local_ranks, bool allow_oversubscribe,
                            const std::string& rank_label) {
  ThreadChoice choice;
  choice.cpus = affinity_cpu_count();
  choice.cpu_list = affinity_cpu_list();
  const int machine = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const char* slurm = std::getenv("SLURM_CPUS_PER_TASK");
  if (requested > 0) {
    choice.threads = static_cast<int>(std::min<int64_t>(requested, 1 << 16));
    choice.source = "--threads " + std::to_string(requested);
  } else if (slurm && std::atoi(slurm) > 0) {
    choice.threads = std::atoi(slurm);
    choice.source = std::string("SLURM_CPUS_PER_TASK=") + slurm;
  } else if (choice.cpus < machine) {
    choice.threads = choice.cpus;  // bound by the launcher: these CPUs are this rank's
    choice.source = "its CPUs";
  } else {
    choice.threads = std::max(1, choice.cpus / std::max(1, local_ranks));
    choice.source = "CPUs / " + std::to_string(local_ranks) + " rank(s) on the node";
  }
  if (choice.threads > choice.cpus && !allow_oversubscribe) {
    const std::string why =
        slurm && requested <= 0
            ? " (srun did not give the task the job's CPUs per task: since Slurm 22.05 srun does not inherit "
              "--cpus-per-task from sbatch; pass srun --cpus-per-task or export SRUN_CPUS_PER_TASK)"
            : "";
    HPA_FAIL(rank_label << ": " << choice.source << " asks for " << choice.threads
                        << " compute threads, but this process may run on " << choice.cpus << " CPU(s) ("
                        << choice.cpu_list << ")" << why
                        << "; more threads than CPUs slow every step (--oversubscribe-threads runs anyway)");
  }
  return choice;
}

}  // namespace hpa
