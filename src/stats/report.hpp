// Presenting projection statistics: the per-layer table printed by hpa-stats and its JSON form
// {"layers": [{"index", "name", "kind", "filters", "neg_fraction", "mean_cosine", "cosines"}]}.
#pragma once

#include "stats/projection.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace hpa::stats {

struct ReportHeader {
  std::string source;       // file or description of what was measured
  std::string source_kind;  // "state_dict", "torchscript", "random-init", ...
  std::string arch;         // empty when unknown
};

void print_table(std::ostream& out, const ReportHeader& header, const std::vector<LayerStats>& layers);
void write_json(std::ostream& out, const ReportHeader& header, const std::vector<LayerStats>& layers);
// Writes JSON to `path` through a temporary file renamed into place; throws hpa::Error naming it.
void write_json_file(const std::string& path, const ReportHeader& header,
                     const std::vector<LayerStats>& layers);

// JSON string literal with escapes.
std::string json_quote(const std::string& text);

}  // namespace hpa::stats
