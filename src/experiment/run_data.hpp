// The data an experiment sees, for both phases: hpa-train trains on it, hpa-reinit-grid evaluates
// the same seed's test set.
#pragma once

#include "data/dataset.hpp"
#include "experiment/spec.hpp"

#include <memory>
#include <string>

namespace hpa::experiment {

// The dataset as a run of `spec` sees it: loaded from `data_dir`, cut to --train-subset and
// --test-subset, restricted to --classes. Throws naming the file or option at fault.
std::unique_ptr<data::Dataset> load_run_dataset(const ExperimentSpec& spec, const std::string& data_dir);

// A seed's samples: its validation split and normalization; the training split augmented, with
// --label-noise and --pixel-shuffle applied to it alone; validation and test as they are.
struct SeedSamples {
  std::unique_ptr<data::SampleSet> train, validation, test;
};
SeedSamples seed_samples(const data::Dataset& dataset, const ExperimentSpec& spec, int64_t seed);

}  // namespace hpa::experiment
