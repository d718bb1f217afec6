// The always-on check of MPI return codes, shared by the files of src/comm (internal header):
// throws hpa::Error "rank R (file:line): CALL failed: MPI's message".
#pragma once

#include "common/error.hpp"

#include <mpi.h>

#include <string>

namespace hpa::comm::detail {

[[noreturn]] inline void throw_mpi_error(int code, const char* call, const char* file, int line) {
  char message[MPI_MAX_ERROR_STRING];
  int length = 0, rank = -1, initialized = 0, finalized = 0;
  MPI_Error_string(code, message, &length);
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  HPA_FAIL("rank " << rank << " (" << file << ":" << line << "): " << call
                   << " failed: " << std::string(message, static_cast<size_t>(length)));
}

}  // namespace hpa::comm::detail

#define HPA_MPI_CHECK(call)                                                           \
  do {                                                                                \
    const int hpa_mpi_code_ = (call);                                                 \
    if (hpa_mpi_code_ != MPI_SUCCESS)                                                 \
      ::hpa::comm::detail::throw_mpi_error(hpa_mpi_code_, #call, __FILE__, __LINE__); \
  } while (0)
