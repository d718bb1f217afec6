// hpa-stats: the projection statistic of every layer of a model file (PyTorch state_dict or
// TorchScript archive) or of a fresh random init of an hpa architecture. Serial; no MPI.
#include "cli/options.hpp"
#include "common/error.hpp"
#include "common/process.hpp"
#include "formats/model_file.hpp"
#include "models/architectures.hpp"
#include "models/parameters.hpp"
#include "stats/report.hpp"
#include "stats/run_report.hpp"

#include <filesystem>

#include <iostream>

namespace {

namespace po = boost::program_options;

struct StatsOptions {
  std::string input;  // model file; empty with --arch means "random init"
  std::string arch;
  std::string init;  // empty: the architecture's default scheme
  std::string json_path;
  bool with_linear = false;
  uint64_t seed = 0;
  int64_t num_classes = 1000;
  int64_t in_channels = 3;
  double width = 1.0;
};

po::options_description describe(StatsOptions& options) {
  po::options_description description("options");
  description.add_options()("input", po::value(&options.input),
                            "model file (torch.save(model.state_dict()) or TorchScript) or run directory")(
      "arch", po::value(&options.arch)->default_value(""),
      "architecture (vgg11 vgg13 vgg16 vgg19 vgg19_orig alexnet lenet): with INPUT, check that the file "
      "fits it; without INPUT, report a random init of it")(
      "json", po::value(&options.json_path)->default_value(""),
      "also write the statistics, every cosine included, to this JSON file")(
      "with-linear", hpa::cli::flag(&options.with_linear),
      "include linear layers (numbered after the convolutions)")(
      "seed", po::value(&options.seed)->default_value(0),
      "seed of the random init (with --arch and no INPUT)")(
      "init", po::value(&options.init)->default_value(""),
      "init scheme of the random init: paper, torchvision or normal-0.01 (default: the architecture's)")(
      "num-classes", po::value(&options.num_classes)->default_value(1000), "class count of the architecture")(
      "in-channels", po::value(&options.in_channels)->default_value(3), "input channels of the architecture")(
      "width", po::value(&options.width)->default_value(1.0), "width multiplier of the architecture");
  return description;
}

std::string describe_model(const hpa::models::ModelSpec& spec) {
  std::ostringstream out;
  out << hpa::models::arch_name(spec.arch) << " (" << spec.num_classes << " classes, " << spec.in_channels
      << " input channels, width " << spec.width << ")";
  return out.str();
}

int run(int argc, char** argv) {
  StatsOptions options;
  po::options_description description = describe(options);
  po::positional_options_description positional;
  positional.add("input", 1);
  const hpa::cli::ParseResult parsed = hpa::cli::parse(argc, argv, description, positional);
  if (parsed.help_requested) {
    std::cout << hpa::cli::help_text(
        "hpa-stats [INPUT | RUN] [--arch A] [--json FILE] [--with-linear] [options]",
        "Prints, per layer, the fraction n_l of filters whose projection statistic (cosine with the\n"
        "all-ones direction) is <= 0, and the mean cosine (Gamba et al. 2020, section 2.3).\n"
        "INPUT: a state_dict (torch.save's zip or legacy pre-1.6 format) or TorchScript file.\n"
        "RUN: an hpa-train run directory (n_l at epoch 0 and at the last complete epoch, over seeds).\n"
        "No INPUT with --arch: a seeded random init.",
        description);
    return 0;
  }
  HPA_REQUIRE(!options.input.empty() || !options.arch.empty(),
              "give a model file, or --arch for a random init (see --help)");
  if (!options.input.empty() && std::filesystem::is_directory(options.input)) {
    hpa::stats::report_run(std::cout, options.input, options.json_path);
    return 0;
  }

  hpa::models::ModelSpec spec;
  if (!options.arch.empty()) {
    spec.arch = hpa::models::parse_arch(options.arch);
    spec.num_classes = options.num_classes;
    spec.in_channels = options.in_channels;
    spec.width = options.width;
    HPA_REQUIRE(spec.num_classes > 0, "--num-classes must be positive, got " << spec.num_classes);
    HPA_REQUIRE(spec.in_channels > 0, "--in-channels must be positive, got " << spec.in_channels);
    HPA_REQUIRE(spec.width > 0, "--width must be positive, got " << spec.width);
  }
  const hpa::models::InitScheme scheme = options.init.empty() ? hpa::models::default_init_scheme(spec.arch)
                                                              : hpa::models::parse_init_scheme(options.init);

  hpa::stats::ReportHeader header;
  header.arch = options.arch;
  hpa::stats::NamedTensors tensors;
  if (options.input.empty()) {
    hpa::models::ConvNet model = hpa::models::make_model(spec, scheme, options.seed);
    tensors = hpa::models::named_parameters(*model);
    header.source = describe_model(spec) + ", seed " + std::to_string(options.seed);
    header.source_kind = "random-init:" + hpa::models::init_scheme_name(scheme);
  } else {
    hpa::formats::ModelFile file = hpa::formats::read_model_file(options.input);
    if (!options.arch.empty()) {
      hpa::models::ConvNet model = hpa::models::build_model(spec);
      hpa::models::check_parameters_fit(*model, file.tensors, options.input, describe_model(spec));
    }
    tensors = std::move(file.tensors);
    header.source = options.input;
    header.source_kind = file.kind == hpa::formats::ModelFileKind::torchscript ? "torchscript" : "state_dict";
  }

  const std::vector<hpa::stats::LayerStats> layers =
      hpa::stats::compute_layer_stats(tensors, options.with_linear);
  HPA_REQUIRE(!layers.empty(), header.source << ": no convolution with a kernel larger than 1x1 found");
  hpa::stats::print_table(std::cout, header, layers);
  if (!options.json_path.empty()) hpa::stats::write_json_file(options.json_path, header, layers);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  hpa::tune_allocator();
  return hpa::cli::run_guarded("hpa-stats", [&] { return run(argc, argv); });
}
