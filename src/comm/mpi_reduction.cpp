// The MPI gradient-reduction backend: one non-blocking MPI_Iallreduce per bucket.
#include "comm/communicator.hpp"
#include "comm/mpi_check.hpp"
#include "comm/native.hpp"
#include "comm/reduction.hpp"
#include "common/error.hpp"

#include <mpi.h>

#include <limits>
#include <vector>

namespace hpa::comm {
namespace {

class MpiReduction final : public Reduction {
 public:
  explicit MpiReduction(const Group& group) : comm_(group.native().handle) {}

  const char* name() const override { return "mpi"; }

  void start(at::Tensor& bucket) override {
    HPA_INTERNAL_CHECK(bucket.numel() <= std::numeric_limits<int>::max(),
                       "bucket too large for one MPI call");
    requests_.push_back(MPI_REQUEST_NULL);
    HPA_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, bucket.data_ptr<float>(), static_cast<int>(bucket.numel()),
                                 MPI_FLOAT, MPI_SUM, comm_, &requests_.back()));
  }

  void progress() override {
    for (MPI_Request& request : requests_) {
      if (request == MPI_REQUEST_NULL) continue;
      int done = 0;
      HPA_MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    }
  }

  void wait_all() override {
    HPA_MPI_CHECK(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE));
    requests_.clear();
  }

 private:
  MPI_Comm comm_;
  std::vector<MPI_Request> requests_;  // of the buckets started this step, in order
};

}  // namespace

std::unique_ptr<Reduction> make_mpi_reduction(const Group& group) {
  return std::make_unique<MpiReduction>(group);
}

}  // namespace hpa::comm
