// The thread rule: a rank's compute threads from --threads, SLURM_CPUS_PER_TASK or its CPUs, and
// never more than its affinity mask allows unless told to (the test binds itself to one CPU).
#include "common/cpus.hpp"
#include "common/error.hpp"

#include <gtest/gtest.h>

#include <sched.h>

#include <cstdlib>
#include <string>

namespace {

// Binds this process to CPU 0 for the test's lifetime (as srun's task/affinity or mpirun would).
class BoundToOneCpu {
 public:
  BoundToOneCpu() {
    sched_getaffinity(0, sizeof saved_, &saved_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    bound_ = CPU_COUNT(&saved_) > 1 && CPU_ISSET(0, &saved_) && sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~BoundToOneCpu() { sched_setaffinity(0, sizeof saved_, &saved_); }
  bool bound() const { return bound_; }

 private:
  cpu_set_t saved_;
  bool bound_ = false;
};

std::string threads_error(int64_t requested) {
  try {
    hpa::choose_threads(requested, 1, /*allow_oversubscribe=*/false, "rank 0 of 1 on test");
  } catch (const hpa::Error& error) {
    return error.what();
  }
  return "";
}

TEST(Threads, FromOptionSlurmOrTheRanksCpus) {
  unsetenv("SLURM_CPUS_PER_TASK");
  const int cpus = hpa::affinity_cpu_count();
  EXPECT_EQ(hpa::choose_threads(1, 1, false, "r").threads, 1);
  EXPECT_EQ(hpa::choose_threads(0, 1, false, "r").threads, cpus);          // unbound: all of them
  EXPECT_EQ(hpa::choose_threads(0, 1000, false, "r").threads, 1);          // shared by many ranks
  setenv("SLURM_CPUS_PER_TASK", "1", 1);
  EXPECT_EQ(hpa::choose_threads(0, 2, false, "r").threads, 1);
  EXPECT_EQ(hpa::choose_threads(0, 2, false, "r").source, "SLURM_CPUS_PER_TASK=1");
  unsetenv("SLURM_CPUS_PER_TASK");
}

TEST(Threads, NeverMoreThanTheCpusTheRankMayRunOn) {
  BoundToOneCpu binding;
  if (!binding.bound()) GTEST_SKIP() << "needs a machine with 2 CPUs or more";
  unsetenv("SLURM_CPUS_PER_TASK");
  EXPECT_EQ(hpa::affinity_cpu_count(), 1);
  EXPECT_EQ(hpa::affinity_cpu_list(), "0");
  const hpa::ThreadChoice bound = hpa::choose_threads(0, 1, false, "r");
  EXPECT_EQ(bound.threads, 1);  // bound by a launcher: its CPUs, not the machine's
  EXPECT_EQ(bound.source, "its CPUs");
  const std::string explicit_error = threads_error(2);
  EXPECT_NE(explicit_error.find("rank 0 of 1 on test: --threads 2 asks for 2 compute threads, but this process may "
                                "run on 1 CPU(s) (0)"),
            std::string::npos)
      << explicit_error;
  EXPECT_NE(explicit_error.find("--oversubscribe-threads"), std::string::npos);
  // What Slurm >= 22.05 does when srun is not given the job's --cpus-per-task: the task is bound to
  // fewer CPUs than SLURM_CPUS_PER_TASK says.
  setenv("SLURM_CPUS_PER_TASK", "2", 1);
  const std::string slurm_error = threads_error(0);
  EXPECT_NE(slurm_error.find("SLURM_CPUS_PER_TASK=2 asks for 2 compute threads"), std::string::npos) << slurm_error;
  EXPECT_NE(slurm_error.find("SRUN_CPUS_PER_TASK"), std::string::npos) << slurm_error;
  EXPECT_EQ(hpa::choose_threads(0, 1, /*allow_oversubscribe=*/true, "r").threads, 2);
  unsetenv("SLURM_CPUS_PER_TASK");
}

}  // namespace
