// Bucketed, hook-driven MPI allreduce of gradients.
#include "comm/gradient_reducer.hpp"

#include "comm/mpi_check.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"

#include <ATen/Functions.h>
#include <mpi.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <optional>
#include <utility>

#if HPA_WITH_NCCL
// CUDA tensors: NCCL on a side stream ordered by events. Not compiled on the CPU-only development
// machines; see docs/performance.md for what has been run where.
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <nccl.h>
#endif

#include <chrono>

namespace hpa::comm {
// Named, not anonymous: GradientReducer::Impl holds buckets, and a class with external linkage must
// not hold a member of an anonymous namespace's type where the file is part of a unity build.
namespace reducer_detail {

struct Bucket {
  std::vector<size_t> params;    // indices into the parameter list
  std::vector<int64_t> offsets;  // element offset of each parameter in `buffer`
  at::Tensor buffer;             // float32, the bucket's gradients packed
  size_t num_ready = 0;
  MPI_Request request = MPI_REQUEST_NULL;
};

}  // namespace reducer_detail
using reducer_detail::Bucket;

namespace {

// Runs after a parameter's AccumulateGrad node: by then its .grad (a view into its bucket) holds
// this step's gradient. A tensor hook would fire before accumulation, too early for in-place buckets.
class BucketReadyHook : public torch::autograd::FunctionPostHook {
 public:
  BucketReadyHook(GradientReducer::Impl* state, size_t param) : state_(state), param_(param) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override;

 private:
  GradientReducer::Impl* state_;
  size_t param_;
};

}  // namespace

struct GradientReducer::Impl {
  MPI_Comm comm = MPI_COMM_NULL;
  int group_size = 1;
  ReducerOptions options;
  std::vector<at::Tensor> params;
  std::vector<size_t> bucket_of, slot_of;  // per parameter
  std::vector<char> ready;
  std::vector<Bucket> buckets;
  size_t next_to_launch = 0;
  int64_t launches = 0;
  bool reducing = false;  // more than one rank, or reduce_single_rank
  std::vector<const void*> grad_storage;  // where each .grad view starts inside its bucket
  // Kept alive: params hold weak refs (a shared_ptr in LibTorch 1.x, an intrusive_ptr in 2.x).
  std::vector<decltype(torch::autograd::impl::grad_accumulator(std::declval<const at::Tensor&>()))> accumulators;
  bool on_cuda = false;
#if HPA_WITH_NCCL
  void* nccl = nullptr;
  std::optional<c10::cuda::CUDAStream> side_stream;

  void launch_nccl(Bucket& bucket) {
    // The side stream starts once the compute stream has produced the bucket's gradients.
    at::cuda::CUDAEvent produced;
    produced.record(c10::cuda::getCurrentCUDAStream());
    produced.block(*side_stream);
    const ncclResult_t result =
        ncclAllReduce(bucket.buffer.data_ptr<float>(), bucket.buffer.data_ptr<float>(),
                      static_cast<size_t>(bucket.buffer.numel()), ncclFloat, ncclSum,
                      static_cast<ncclComm_t>(nccl), side_stream->stream());
    if (result != ncclSuccess) HPA_FAIL("ncclAllReduce failed: " << ncclGetErrorString(result));
  }

  // The compute stream continues (optimizer step) only after every bucket is reduced.
  void wait_nccl() {
    at::cuda::CUDAEvent reduced;
    reduced.record(*side_stream);
    reduced.block(c10::cuda::getCurrentCUDAStream());
  }
#endif

  void launch(Bucket& bucket) {
    ++launches;
#if HPA_WITH_NCCL
    if (on_cuda) {
      launch_nccl(bucket);
      return;
    }
#endif
    HPA_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, bucket.buffer.data_ptr<float>(),
                                 static_cast<int>(bucket.buffer.numel()), MPI_FLOAT, MPI_SUM, comm,
                                 &bucket.request));
  }

  // Buckets are launched strictly in order so every rank issues the same collectives in the same
  // sequence, whatever order its hooks fire in.
  void launch_ready_buckets() {
    while (next_to_launch < buckets.size() &&
           buckets[next_to_launch].num_ready == buckets[next_to_launch].params.size())
      launch(buckets[next_to_launch++]);
  }

  // Open MPI progresses non-blocking collectives only inside MPI calls: poke it from each hook.
  void progress() {
    if (on_cuda) return;  // NCCL progresses on its own
    for (size_t b = 0; b < next_to_launch; ++b) {
      if (buckets[b].request == MPI_REQUEST_NULL) continue;
      int done = 0;
      HPA_MPI_CHECK(MPI_Test(&buckets[b].request, &done, MPI_STATUS_IGNORE));
    }
  }

  void on_gradient_ready(size_t param) {
    Bucket& bucket = buckets[bucket_of[param]];
    if (!ready[param]) {
      ready[param] = 1;
      ++bucket.num_ready;
    }
    launch_ready_buckets();
    progress();
  }
};

namespace {
torch::autograd::variable_list BucketReadyHook::operator()(const torch::autograd::variable_list& outputs,
                                                           const torch::autograd::variable_list&) {
  state_->on_gradient_ready(param_);
  return outputs;
}
}  // namespace

GradientReducer::GradientReducer(const Group& group, std::vector<at::Tensor> params, ReducerOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.comm = *static_cast<const MPI_Comm*>(group.native_handle());
  s.group_size = group.group_size();
  s.options = options;
  s.params = std::move(params);
  s.bucket_of.resize(s.params.size());
  s.slot_of.resize(s.params.size());
  s.ready.assign(s.params.size(), 0);
  // Reverse parameter order: the last layers' gradients are ready first.
  int64_t capacity_bytes = options.overlap ? options.first_bucket_bytes : INT64_MAX, filled = 0;
  for (size_t k = s.params.size(); k-- > 0;) {
    HPA_INTERNAL_CHECK(s.params[k].scalar_type() == at::kFloat, "gradient buckets hold float32 parameters");
    const int64_t numel = s.params[k].numel();
    if (s.buckets.empty() || (filled > 0 && (filled + numel) * 4 > capacity_bytes)) {
      if (!s.buckets.empty()) capacity_bytes = options.overlap ? options.bucket_bytes : INT64_MAX;
      s.buckets.emplace_back();
      filled = 0;
    }
    Bucket& bucket = s.buckets.back();
    s.bucket_of[k] = s.buckets.size() - 1;
    s.slot_of[k] = bucket.params.size();
    bucket.params.push_back(k);
    bucket.offsets.push_back(filled);
    filled += numel;
  }
  for (Bucket& bucket : s.buckets) {
    const int64_t numel = bucket.offsets.back() + s.params[bucket.params.back()].numel();
    HPA_INTERNAL_CHECK(numel <= INT32_MAX, "bucket too large for one MPI call");
    bucket.buffer = at::zeros({numel}, s.params[bucket.params[0]].options());
  }
  s.reducing = s.group_size > 1 || options.reduce_single_rank;
  if (!s.reducing) return;
  s.on_cuda = !s.params.empty() && s.params[0].is_cuda();
  if (s.on_cuda) {
#if HPA_WITH_NCCL
    // NCCL binds its communicator to the current device: make it this rank's (local rank % GPUs),
    // or every rank of a node would claim GPU 0.
    c10::cuda::set_device(s.params[0].device().index());
    s.nccl = group.nccl_handle();
    s.side_stream = c10::cuda::getStreamFromPool(/*isHighPriority=*/true, s.params[0].device().index());
#else
    HPA_FAIL(
        "data-parallel training of CUDA tensors needs the NCCL backend (configure with -DHPA_WITH_NCCL=ON)");
#endif
  }
  s.grad_storage.assign(s.params.size(), nullptr);
  // Gradients live in the buckets: each .grad is a view, autograd accumulates into it in place,
  // and the allreduce runs on the bucket itself, so no gradient is ever copied.
  for (Bucket& bucket : s.buckets) {
    for (size_t slot = 0; slot < bucket.params.size(); ++slot) {
      at::Tensor& param = s.params[bucket.params[slot]];
      param.mutable_grad() = bucket.buffer.narrow(0, bucket.offsets[slot], param.numel()).view_as(param);
      s.grad_storage[bucket.params[slot]] = param.grad().data_ptr();
    }
  }
  if (!options.overlap) return;
  for (size_t k = 0; k < s.params.size(); ++k) {
    auto accumulator = torch::autograd::impl::grad_accumulator(s.params[k]);
    accumulator->add_post_hook(std::make_unique<BucketReadyHook>(impl_.get(), k));
    s.accumulators.push_back(std::move(accumulator));
  }
}

GradientReducer::~GradientReducer() = default;

int64_t GradientReducer::num_buckets() const { return static_cast<int64_t>(impl_->buckets.size()); }

int64_t GradientReducer::launches() const { return impl_->launches; }

std::vector<at::Tensor> GradientReducer::bucket_buffers() const {
  std::vector<at::Tensor> buffers;
  for (const Bucket& bucket : impl_->buckets) buffers.push_back(bucket.buffer);
  return buffers;
}

void GradientReducer::begin_step() {
  Impl& s = *impl_;
  std::fill(s.ready.begin(), s.ready.end(), 0);
  for (Bucket& bucket : s.buckets) {
    bucket.num_ready = 0;
    bucket.request = MPI_REQUEST_NULL;
  }
  s.next_to_launch = 0;
}

void GradientReducer::finish_step(std::vector<double>& extras) {
  Impl& s = *impl_;
  const double start = wall_seconds();
  if (s.reducing) {
    // Parameters that got no gradient this step (an empty share, an unused layer) hold the zeros
    // of zero_grad; with overlap off, every bucket is launched here.
    for (size_t k = 0; k < s.params.size(); ++k) {
      HPA_INTERNAL_CHECK(s.params[k].grad().defined() && s.params[k].grad().data_ptr() == s.grad_storage[k],
                         "gradient " << k << " no longer lives in its bucket (was .grad replaced?)");
      if (s.ready[k]) continue;
      s.ready[k] = 1;
      ++s.buckets[s.bucket_of[k]].num_ready;
    }
    s.launch_ready_buckets();
#if HPA_WITH_NCCL
    if (s.on_cuda) s.wait_nccl();
#endif
    if (!s.on_cuda) {
      std::vector<MPI_Request> requests;
      for (Bucket& bucket : s.buckets) requests.push_back(bucket.request);
      HPA_MPI_CHECK(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE));
      for (Bucket& bucket : s.buckets) bucket.request = MPI_REQUEST_NULL;
    }
    if (!extras.empty())
      HPA_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, extras.data(), static_cast<int>(extras.size()), MPI_DOUBLE,
                                  MPI_SUM, s.comm));
  }
  exposed_s_ += wall_seconds() - start;
}

}  // namespace hpa::comm
