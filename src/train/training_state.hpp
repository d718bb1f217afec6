// What a seed group keeps between training steps, and the one place that decides where it lives:
// the model (built on the CPU, group rank 0's init broadcast, then moved), the copy of its init
// that the distance statistic compares with, the SGD momenta and the gradient buckets. All of it
// is float32 on `device` from construction on and after a checkpoint is loaded (whose tensors come
// from files, on the CPU): place() is the one conversion. With bf16 autocast they stay float32 (the
// master weights); with channels-last the 4-D parameters, their momenta and gradient views use NHWC
// strides (place() keeps what it is given; copies into them keep their strides). No training loop here:
// SeedTrainer drives it.
#pragma once

#include "comm/communicator.hpp"
#include "comm/gradient_reducer.hpp"
#include "models/architectures.hpp"
#include "store/run_directory.hpp"
#include "train/sgd.hpp"

#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hpa::train {

struct StateOptions {
  double momentum = 0.9;
  double weight_decay = 5e-4;
  comm::ReducerOptions reducer;
  models::Numerics numerics;  // precision and memory format of the model's passes
};

class TrainingState {
 public:
  // Every rank of `group`: builds the model from `init` with `seed`, takes group rank 0's values,
  // moves it to `device`, and makes the reducer and optimizer there. The init copy is empty until
  // start_fresh() or load().
  TrainingState(const models::ModelSpec& spec, models::InitScheme init, uint64_t seed, const comm::Group& group,
                c10::Device device, const StateOptions& options);

  // A run from its init: the init copy is the model's current parameters.
  void start_fresh();
  // A resumed run: parameters and momenta from `checkpoint`, the init copy from `init_params`
  // (epoch 0's file); every tensor is moved to the state's device. Throws naming `source`.
  void load(const store::Checkpoint& checkpoint, const store::NamedTensors& init_params,
            const std::string& source, const std::string& model_description);

  // A tensor read from a file, or made on the CPU, as the state keeps its tensors: float32 on the
  // state's device.
  at::Tensor place(const at::Tensor& tensor) const;

  // Every tensor the state keeps, named by role ("parameter features.0.weight", "init ...",
  // "momentum ...", "gradient bucket 0"): what the placement tests check.
  std::vector<std::pair<std::string, at::Tensor>> kept_tensors();

  c10::Device device() const { return device_; }
  models::ConvNet model{nullptr};
  store::NamedTensors init_params;  // the parameters at epoch 0
  std::unique_ptr<comm::GradientReducer> reducer;
  std::unique_ptr<Sgd> sgd;

 private:
  c10::Device device_;
};

}  // namespace hpa::train
