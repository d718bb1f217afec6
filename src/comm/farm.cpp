// The farm's message protocol: a worker sends REQUEST carrying its stop flag and its last result (or
// none), rank 0 answers ASSIGN with the next item, or -1 when there is none left or the farm is
// stopping; all on a duplicate of the world communicator made for the farm. At the end rank 0
// broadcasts whether the farm finished.
#include "comm/farm.hpp"

#include "comm/mpi_check.hpp"
#include "comm/native.hpp"
#include "common/error.hpp"

#include <mpi.h>

#include <deque>

namespace hpa::comm {
namespace {

constexpr int kTagRequest = 701;
constexpr int kTagAssign = 702;

// Thrown by `service()` once the farm is stopping; caught around the work callback only.
struct FarmStopped {};

bool asked_to_stop(const FarmCallbacks& callbacks) {
  return callbacks.stop_requested && callbacks.stop_requested();
}

// A request's payload: [stop flag, item, values...]; item -1 means "no result".
std::vector<double> pack(bool stopping, int64_t item, const std::vector<double>& result) {
  std::vector<double> message = {stopping ? 1.0 : 0.0, static_cast<double>(item)};
  message.insert(message.end(), result.begin(), result.end());
  return message;
}

class Master {
 public:
  Master(const World& world, MPI_Comm comm, const std::vector<int64_t>& items, const FarmCallbacks& callbacks)
      : world_(world), comm_(comm), pending_(items.begin(), items.end()), callbacks_(callbacks) {}

  // True when every item is done (all ranks of the farm).
  bool run() {
    const std::function<void()> service = [this] {
      serve(/*block=*/false);
      if (stopping()) throw FarmStopped{};
    };
    // Rank 0 works too, taking items from the same queue; between its own steps it answers others.
    while (!pending_.empty() && !stopping()) {
      const int64_t item = pending_.front();
      pending_.pop_front();
      try {
        callbacks_.on_result(item, callbacks_.work(item, service));
      } catch (const FarmStopped&) {
        pending_.push_front(item);  // abandoned: not done
      }
    }
    while (workers_stopped_ < world_.world_size() - 1) serve(/*block=*/true);
    return pending_.empty() && abandoned_ == 0;  // a stop after the last item changes nothing
  }

 private:
  bool stopping() {
    if (!stopping_ && asked_to_stop(callbacks_)) stopping_ = true;
    return stopping_;
  }

  void serve(bool block) {
    while (true) {
      int flag = 0;
      MPI_Status status;
      if (block) {
        HPA_MPI_CHECK(MPI_Probe(MPI_ANY_SOURCE, kTagRequest, comm_, &status));
        flag = 1;
      } else {
        HPA_MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, kTagRequest, comm_, &flag, &status));
      }
      if (!flag) return;
      int count = 0;
      HPA_MPI_CHECK(MPI_Get_count(&status, MPI_DOUBLE, &count));
      std::vector<double> message(static_cast<size_t>(count));
      HPA_MPI_CHECK(MPI_Recv(message.data(), count, MPI_DOUBLE, status.MPI_SOURCE, kTagRequest,
                             comm_, MPI_STATUS_IGNORE));
      HPA_INTERNAL_CHECK(message.size() >= 2, "short farm request");
      if (message[0] != 0) stopping_ = true;  // a worker was asked to stop: everybody stops
      const auto finished = static_cast<int64_t>(message[1]);
      if (finished >= 0)
        callbacks_.on_result(finished, std::vector<double>(message.begin() + 2, message.end()));
      else if (finished == -2)
        ++abandoned_;
      int64_t next = -1;
      if (!pending_.empty() && !stopping()) {
        next = pending_.front();
        pending_.pop_front();
      } else {
        ++workers_stopped_;
      }
      HPA_MPI_CHECK(MPI_Send(&next, 1, MPI_INT64_T, status.MPI_SOURCE, kTagAssign, comm_));
      if (block) return;
    }
  }

  const World& world_;
  MPI_Comm comm_;
  std::deque<int64_t> pending_;
  const FarmCallbacks& callbacks_;
  int workers_stopped_ = 0;
  int64_t abandoned_ = 0;  // items workers gave up on a stop
  bool stopping_ = false;
};

void run_worker(MPI_Comm comm, const FarmCallbacks& callbacks) {
  const std::function<void()> service = [&] {
    if (asked_to_stop(callbacks)) throw FarmStopped{};
  };
  int64_t finished = -1;  // -1: no result yet; -2: the last item was abandoned
  std::vector<double> result;
  while (true) {
    const std::vector<double> message = pack(asked_to_stop(callbacks), finished, result);
    HPA_MPI_CHECK(MPI_Send(message.data(), static_cast<int>(message.size()), MPI_DOUBLE, 0, kTagRequest, comm));
    int64_t item = -1;
    HPA_MPI_CHECK(MPI_Recv(&item, 1, MPI_INT64_T, 0, kTagAssign, comm, MPI_STATUS_IGNORE));
    if (item < 0) return;
    try {
      result = callbacks.work(item, service);
      finished = item;
    } catch (const FarmStopped&) {
      result.clear();
      finished = -2;
    }
  }
}

}  // namespace

bool run_farm(const World& world, const std::vector<int64_t>& items, const FarmCallbacks& callbacks) {
  // The farm's own communicator: its messages can never match another library's (or hpa's) traffic
  // on the world communicator, whatever tags those use.
  MPI_Comm comm = MPI_COMM_NULL;
  HPA_MPI_CHECK(MPI_Comm_dup(world.native().handle, &comm));
  int finished = 1;
  if (world.is_world_root()) {
    finished = Master(world, comm, items, callbacks).run() ? 1 : 0;
  } else {
    run_worker(comm, callbacks);
  }
  HPA_MPI_CHECK(MPI_Bcast(&finished, 1, MPI_INT, 0, comm));  // every rank: did the farm finish?
  HPA_MPI_CHECK(MPI_Comm_free(&comm));
  return finished != 0;
}

}  // namespace hpa::comm
