// Fault injection for the failure tests: HPA_TEST_FAULT=NAME@RANK makes fault_point(NAME, RANK)
// throw an hpa::Error on that rank, at a place no input can reach (inside a collective HDF5 write,
// with gradient allreduces in flight). Unset, a fault point costs one comparison.
#pragma once

namespace hpa {

void fault_point(const char* name, int rank);

}  // namespace hpa
