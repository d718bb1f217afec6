// GoogleTest main for tests that run under `mpirun -np 2`: MPI is set up once by hpa's World, and
// only rank 0 prints results (every rank still runs and checks every test).
#include "comm/communicator.hpp"

#include <gtest/gtest.h>

hpa::comm::World* g_world = nullptr;

int main(int argc, char** argv) {
  hpa::comm::World world(argc, argv);
  g_world = &world;
  ::testing::InitGoogleTest(&argc, argv);
  if (!world.is_world_root()) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  // A failure on any rank fails the test on every rank.
  return world.world_all(failed == 0) ? 0 : 1;
}
