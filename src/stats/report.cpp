// Table and JSON output of projection statistics.
#include "stats/report.hpp"

#include "common/error.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>

namespace hpa::stats {
namespace {

std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

}  // namespace

std::string json_quote(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void print_table(std::ostream& out, const ReportHeader& header, const std::vector<LayerStats>& layers) {
  out << "source: " << header.source << " (" << header.source_kind << ")";
  if (!header.arch.empty()) out << ", arch " << header.arch;
  out << "\n";
  out << std::left << std::setw(6) << "layer" << std::setw(24) << "name" << std::setw(8) << "kind"
      << std::right << std::setw(7) << "F" << std::setw(10) << "n_l" << std::setw(12) << "mean cos"
      << "\n";
  for (const LayerStats& stats : layers) {
    out << std::left << std::setw(6) << stats.layer.index << std::setw(24) << stats.layer.name << std::setw(8)
        << layer_kind_name(stats.layer.kind) << std::right << std::setw(7) << stats.layer.shape.at(0)
        << std::fixed << std::setprecision(4) << std::setw(10) << stats.neg_fraction << std::setw(12)
        << stats.mean_cosine << "\n";
    out.unsetf(std::ios::fixed);
  }
}

void write_json(std::ostream& out, const ReportHeader& header, const std::vector<LayerStats>& layers) {
  out << "{\"source\": " << json_quote(header.source)
      << ", \"source_kind\": " << json_quote(header.source_kind)
      << ", \"arch\": " << (header.arch.empty() ? "null" : json_quote(header.arch)) << ",\n \"layers\": [";
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerStats& stats = layers[i];
    out << (i ? ",\n  " : "\n  ") << "{\"index\": " << stats.layer.index
        << ", \"name\": " << json_quote(stats.layer.name)
        << ", \"kind\": " << json_quote(layer_kind_name(stats.layer.kind))
        << ", \"filters\": " << stats.layer.shape.at(0)
        << ", \"neg_fraction\": " << json_number(stats.neg_fraction)
        << ", \"mean_cosine\": " << json_number(stats.mean_cosine) << ", \"cosines\": [";
    const at::Tensor cosines = stats.cosines.contiguous();
    const double* data = cosines.data_ptr<double>();
    for (int64_t f = 0; f < cosines.numel(); ++f) out << (f ? ", " : "") << json_number(data[f]);
    out << "]}";
  }
  out << "\n ]}\n";
}

void write_json_file(const std::string& path, const ReportHeader& header,
                     const std::vector<LayerStats>& layers) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream file(temporary);
    if (!file) HPA_FAIL("--json " << path << ": cannot open " << temporary << " for writing");
    write_json(file, header, layers);
    file.flush();
    if (!file) HPA_FAIL("--json " << path << ": write failed");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    HPA_FAIL("--json " << path << ": cannot rename the temporary file into place");
  }
}

}  // namespace hpa::stats
