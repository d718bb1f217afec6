// Declares comm::NativeComm (comm/native.hpp) for headers that pass it on without needing mpi.h.
#pragma once

namespace hpa::comm {
struct NativeComm;
}  // namespace hpa::comm
