// hpa-pack --show; see show.hpp.
#include "pack/show.hpp"

#include "cli/options.hpp"
#include "common/error.hpp"
#include "data/packed_dataset.hpp"
#include "image/encode.hpp"

#include <cmath>

namespace hpa::pack {

namespace {

std::string png_path(const std::string& pattern, int64_t index) {
  const size_t at = pattern.find("{index}");
  return at == std::string::npos ? pattern
                                 : pattern.substr(0, at) + std::to_string(index) + pattern.substr(at + 7);
}

}  // namespace

void show_sample(const ShowOptions& options, std::ostream& log) {
  HPA_REQUIRE(options.transform == "eval" || options.transform == "train",
              "--transform must be eval or train, got '" << options.transform << "'");
  HPA_REQUIRE(!options.png.empty(), "--png is required with --show: the image file to write");
  HPA_REQUIRE(options.seed >= 0 && options.epoch >= 0, "--seed and --epoch must be >= 0");
  HPA_REQUIRE(options.eval_resize >= options.image_size && options.image_size >= 8,
              "--image-size must be >= 8 and --eval-resize at least as large");
  const std::vector<int64_t> indices = cli::parse_index_list(options.indices, "--index");
  HPA_REQUIRE(indices.size() == 1 || options.png.find("{index}") != std::string::npos,
              "--png " << options.png << ": with several --index values it must contain {index}");
  const std::shared_ptr<const store::ImagePack> pack = store::ImagePack::open(options.pack);
  for (int64_t index : indices)
    HPA_REQUIRE(index < pack->size(), "--index " << index << " is out of range: " << options.pack << " holds "
                                                 << pack->size() << " images (0.." << pack->size() - 1
                                                 << ")");
  data::ImageTransform transform =
      data::make_image_transform(options.image_size, options.eval_resize, options.dct_scaling);
  transform.train = options.transform == "train";
  const data::Normalization normalization =
      data::constant_normalization(data::NormalizationKind::imagenet, 3);
  const data::PackedSamples samples(pack, indices, transform, normalization,
                                    static_cast<uint64_t>(options.seed));
  const int side = transform.size;
  const size_t plane = static_cast<size_t>(side) * static_cast<size_t>(side);
  std::vector<float> values(3 * plane);
  for (size_t position = 0; position < indices.size(); ++position) {
    const int64_t index = indices[position];
    const store::PackedImage image = pack->describe(index);
    const data::TransformGeometry g = samples.write_sample_with_geometry(
        static_cast<int64_t>(position), static_cast<uint64_t>(options.epoch), values.data());
    image::RgbImage rgb;
    rgb.width = rgb.height = side;
    rgb.pixels.resize(3 * plane);
    for (size_t k = 0; k < plane; ++k)
      for (size_t c = 0; c < 3; ++c) {  // back from (v/255 - mean)/std to v
        const float v = (values[c * plane + k] * normalization.std[c] + normalization.mean[c]) * 255.0f;
        rgb.pixels[3 * k + c] = static_cast<uint8_t>(std::lround(std::min(255.0f, std::max(0.0f, v))));
      }
    const std::string path = png_path(options.png, index);
    image::write_png(path, rgb);
    log << "sample " << index << ": " << image.path << ", label " << image.label << " ("
        << pack->classes()[static_cast<size_t>(image.label)] << "), " << image.width << "x" << image.height
        << " " << (image.format == 2 ? "PNG" : "JPEG") << " with " << int(image.components)
        << " component(s); ";
    if (transform.train)
      log << "train: crop top " << g.top << " left " << g.left << " height " << g.height << " width "
          << g.width << (g.fallback ? " (central fallback)" : "") << ", flip " << (g.flip ? "yes" : "no");
    else
      log << "eval: resize to " << g.resized_width << "x" << g.resized_height << ", crop top " << g.top
          << " left " << g.left;
    log << ", decoded at 1/" << g.scale_denominator << "; " << side << "x" << side << " written to " << path
        << "\n";
  }
}

}  // namespace hpa::pack
