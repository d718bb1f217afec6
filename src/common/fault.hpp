// Fault injection and pauses for the failure tests, at places no input can reach.
// HPA_TEST_FAULT=NAME@RANK makes fault_point(NAME, RANK) throw an hpa::Error on that rank (inside a
// collective HDF5 write, with gradient allreduces in flight).
// HPA_TEST_PAUSE=DIR makes pause_point(NAME) wait, once, for SIGUSR2 or SIGTERM when the file
// DIR/NAME exists: it writes DIR/NAME.reached, then waits (at most 10 minutes) until a stop signal
// has arrived. A test arms a point, waits for the .reached file and sends the signal: the program is
// at a known step when the signal comes, whatever the machine's speed.
// Unset, a fault point costs one comparison and a pause point one test of a static flag.
#pragma once

#include <string>

namespace hpa {

void fault_point(const char* name, int rank);

bool pause_points_enabled();
void pause_point(const std::string& name);

}  // namespace hpa
