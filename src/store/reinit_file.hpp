// RUN/reinit.h5: the re-initialization grid (docs/run-format.md), rewritten atomically as cells
// complete, and read back to resume.
#pragma once

#include "store/run_directory.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace hpa::store {

struct ReinitGrid {
  std::vector<int64_t> seeds;
  std::vector<int64_t> layer_indices;    // 1-based, as model/layers
  std::vector<std::string> layer_names;  // module paths
  std::vector<int64_t> epochs;           // the reset epochs (columns 0..E'-1)
  int64_t rerandomize = 0;               // R re-randomization columns after the epochs
  int64_t test_samples = 0;
  std::string method;                      // "fused" or "naive"
  std::string precision = "fp32";          // of the evaluation: "fp32" or "bf16" (files without it: fp32)
  std::string config;                      // resolved hpa-reinit-grid options (written, not compared)
  std::vector<int64_t> correct;            // [S, L, E'+R]; -1 while not evaluated
  std::vector<int64_t> baseline_correct;   // [S]; -1 while not evaluated
  std::vector<int64_t> rerandomize_seeds;  // [S, L, R]

  int64_t columns() const { return static_cast<int64_t>(epochs.size()) + rerandomize; }
  // Same experiment (seeds, layers, epochs, R, test set, precision)? Then its results can be reused.
  bool same_cells(const ReinitGrid& other) const;
};

std::string reinit_file_path(const std::string& run_dir);
void write_reinit(const std::string& run_dir, const ReinitGrid& grid);
// False when there is no reinit.h5; throws hpa::Error when it is unreadable or of another schema.
bool read_reinit(const std::string& run_dir, ReinitGrid& grid);

}  // namespace hpa::store
