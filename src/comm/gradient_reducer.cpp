// Bucketed, hook-driven allreduce of gradients; the collectives are the backend's (comm/reduction.hpp).
#include "comm/gradient_reducer.hpp"

#include "comm/reduction.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"

#include <ATen/Functions.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <climits>
#include <utility>

namespace hpa::comm {
// Named, not anonymous: GradientReducer::Impl holds buckets, and a class with external linkage must
// not hold a member of an anonymous namespace's type where the file is part of a unity build.
namespace reducer_detail {

struct Bucket {
  std::vector<size_t> params;    // indices into the parameter list
  std::vector<int64_t> offsets;  // element offset of each parameter in `buffer`
  at::Tensor buffer;             // float32, the bucket's gradients packed
  size_t num_ready = 0;
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
  const Group* group = nullptr;
  ReducerOptions options;
  std::vector<at::Tensor> params;
  std::vector<size_t> bucket_of, slot_of;  // per parameter
  std::vector<char> ready;
  std::vector<Bucket> buckets;
  size_t next_to_launch = 0;
  int64_t launches = 0;
  std::unique_ptr<Reduction> reduction;   // null when nothing is reduced (one rank)
  std::vector<const void*> grad_storage;  // where each .grad view starts inside its bucket
  // Kept alive: params hold weak refs (a shared_ptr in LibTorch 1.x, an intrusive_ptr in 2.x).
  std::vector<decltype(torch::autograd::impl::grad_accumulator(std::declval<const at::Tensor&>()))>
      accumulators;

  void launch(Bucket& bucket) {
    ++launches;
    reduction->start(bucket.buffer);
  }

  // Buckets are launched strictly in order so every rank issues the same collectives in the same
  // sequence, whatever order its hooks fire in.
  void launch_ready_buckets() {
    while (next_to_launch < buckets.size() &&
           buckets[next_to_launch].num_ready == buckets[next_to_launch].params.size())
      launch(buckets[next_to_launch++]);
  }

  void on_gradient_ready(size_t param) {
    Bucket& bucket = buckets[bucket_of[param]];
    if (!ready[param]) {
      ready[param] = 1;
      ++bucket.num_ready;
    }
    launch_ready_buckets();
    reduction->progress();  // Open MPI progresses non-blocking collectives only inside MPI calls
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
  s.group = &group;
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
    HPA_INTERNAL_CHECK(numel <= INT32_MAX, "bucket too large for one collective call");
    bucket.buffer = at::zeros({numel}, s.params[bucket.params[0]].options());
  }
  if (group.group_size() == 1 && !options.reduce_single_rank) return;
  const bool on_cuda = !s.params.empty() && s.params[0].is_cuda();
  s.reduction =
      on_cuda ? make_nccl_reduction(group, s.params[0].device().index()) : make_mpi_reduction(group);
  s.grad_storage.assign(s.params.size(), nullptr);
  // Gradients live in the buckets: each .grad is a view, autograd accumulates into it in place,
  // and the allreduce runs on the bucket itself, so no gradient is ever copied.
  for (Bucket& bucket : s.buckets) {
    for (size_t slot = 0; slot < bucket.params.size(); ++slot) {
      at::Tensor& param = s.params[bucket.params[slot]];
      // With the parameter's own strides (NCHW or channels-last), as autograd would lay out its gradient.
      HPA_INTERNAL_CHECK(param.is_contiguous() || param.is_contiguous(at::MemoryFormat::ChannelsLast),
                         "gradient buckets need dense parameters (contiguous or channels-last)");
      param.mutable_grad() = bucket.buffer.narrow(0, bucket.offsets[slot], param.numel())
                                 .as_strided(param.sizes(), param.strides());
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
  for (Bucket& bucket : s.buckets) bucket.num_ready = 0;
  s.next_to_launch = 0;
}

void GradientReducer::finish_step(std::vector<double>& extras) {
  Impl& s = *impl_;
  const double start = wall_seconds();
  if (s.reduction) {
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
    s.reduction->wait_all();
    s.group->group_sum(extras);
  }
  exposed_s_ += wall_seconds() - start;
}

}  // namespace hpa::comm
