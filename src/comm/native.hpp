// The MPI communicator under a Group or the World, typed: what another room hands to a library that
// speaks MPI itself (store/ gives it to HDF5's MPI-IO driver). Including this header brings mpi.h;
// headers outside src/comm name the type only by its declaration in comm/native_fwd.hpp.
#pragma once

#include "comm/native_fwd.hpp"

#include <mpi.h>

namespace hpa::comm {

struct NativeComm {
  MPI_Comm handle = MPI_COMM_NULL;
};

}  // namespace hpa::comm
