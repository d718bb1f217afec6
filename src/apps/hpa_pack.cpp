// hpa-pack: packs an ImageFolder tree (or ImageNet's flat validation folder with its solution CSV)
// into one HDF5 image pack for hpa-train --dataset imagenet, and shows a packed sample after the
// training or evaluation transform. Serial: its threads read and check the images.
#include "cli/options.hpp"
#include "common/error.hpp"
#include "common/process.hpp"
#include "pack/packer.hpp"
#include "pack/show.hpp"

#include <iostream>

namespace {

namespace po = boost::program_options;

int run(int argc, char** argv) {
  hpa::pack::PackOptions pack;
  hpa::pack::ShowOptions show;
  po::options_description packing("packing");
  packing.add_options()("source", po::value(&pack.source),
                        "the folder to pack (or give it as the first argument)")(
      "out", po::value(&pack.out)->default_value(""), "the pack file to write, e.g. train.h5 (required)")(
      "val-solution", po::value(&pack.val_solution)->default_value(""),
      "LOC_val_solution.csv: SOURCE is ImageNet's flat validation folder, labelled by the first synset of "
      "each "
      "row (needs --classes-from)")("classes-from", po::value(&pack.classes_from)->default_value(""),
                                    "a training pack whose classes and class indices this pack uses")(
      "threads", po::value(&pack.threads)->default_value(pack.threads),
      "reading and checking threads (0: every core)")(
      "skip-bad", hpa::cli::flag(&pack.skip_bad),
      "leave out truncated, empty or undecodable images, listing them in the pack and the summary (default: "
      "stop "
      "with an error and write nothing)")("max-side", po::value(&pack.max_side)->default_value(pack.max_side),
                                          "re-encode images whose longer side exceeds N pixels to that size "
                                          "(0: keep every file's bytes unchanged)")(
      "quality", po::value(&pack.quality)->default_value(pack.quality), "JPEG quality of re-encoded images")(
      "overwrite", hpa::cli::flag(&pack.overwrite),
      "replace an existing --out once the new pack is complete")(
      "progress-seconds", po::value(&pack.progress_seconds)->default_value(pack.progress_seconds),
      "seconds between progress lines");
  std::string show_pack;
  po::options_description showing("showing a packed sample");
  showing.add_options()("show", po::value(&show_pack)->default_value(""),
                        "PACK.h5: write sample(s) --index after --transform to --png instead of packing")(
      "index", po::value(&show.indices)->default_value(""), "sample index in the pack, or a list and ranges")(
      "transform", po::value(&show.transform)->default_value(show.transform),
      "eval (Resize + CenterCrop) or train (RandomResizedCrop + flip)")(
      "seed", po::value(&show.seed)->default_value(show.seed), "train: the seed whose draws to show")(
      "epoch", po::value(&show.epoch)->default_value(show.epoch), "train: the epoch whose draws to show")(
      "image-size", po::value(&show.image_size)->default_value(show.image_size), "as hpa-train --image-size")(
      "eval-resize", po::value(&show.eval_resize)->default_value(show.eval_resize),
      "as hpa-train --eval-resize")(
      "dct-scaling", hpa::cli::flag(&show.dct_scaling),
      "as hpa-train --dct-scaling")("png", po::value(&show.png)->default_value(""), "the PNG file to write");
  po::options_description all;
  all.add(packing).add(showing);
  po::positional_options_description positional;
  positional.add("source", 1);
  const hpa::cli::ParseResult parsed = hpa::cli::parse(argc, argv, all, positional);
  if (parsed.help_requested) {
    std::cout << hpa::cli::help_text(
        "hpa-pack SRC --out FILE.h5 [options]\n"
        "       hpa-pack VAL_DIR --val-solution LOC_val_solution.csv --classes-from TRAIN.h5 --out val.h5\n"
        "       hpa-pack --show FILE.h5 --index I --transform eval|train [--seed S --epoch E] --png OUT.png\n"
        "       hpa-pack --show FILE.h5 --index 0-9 ... --png 'out/sample_{index}.png'",
        "Packs an ImageFolder tree (SRC/<class>/<image>; classes are the sorted folder names, as "
        "torchvision's\n"
        "ImageFolder) into one HDF5 file: every image's encoded bytes back to back, with per-sample offset,\n"
        "length, label, size and path (docs/image-pack-format.md). hpa-train --dataset imagenet reads\n"
        "DIR/train.h5 and DIR/val.h5. Each image is decoded once to check it; the file appears only when\n"
        "complete.",
        all);
    return 0;
  }
  if (!show_pack.empty()) {
    HPA_REQUIRE(pack.source.empty() && pack.out.empty(), "--show does not pack: drop SOURCE and --out");
    HPA_REQUIRE(!show.indices.empty(), "--show needs --index");
    show.pack = show_pack;
    hpa::pack::show_sample(show, std::cout);
    return 0;
  }
  HPA_REQUIRE(!pack.source.empty(), "give the folder to pack (see --help)");
  pack.config_text = hpa::cli::resolved_config(parsed.values);
  hpa::pack::pack_images(pack, std::cout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  hpa::tune_allocator();
  return hpa::cli::run_guarded("hpa-pack", [&] { return run(argc, argv); });
}
