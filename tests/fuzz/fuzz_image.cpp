// JPEG and PNG decoding on arbitrary bytes: the header, the whole image, and a region at a DCT
// scale, both chosen by the input's last bytes (so the fuzzer explores them with the data).
#include "fuzz_support.hpp"
#include "image/decode.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint8_t* tail = data + size - 4;
  size -= 4;
  return hpa::fuzz::guarded([&] {
    const hpa::image::Header header = hpa::image::read_header(data, size);
    // Bounded like hpa-pack's inputs in practice; larger images only cost the fuzzer time.
    if (int64_t(header.width) * header.height > 4096 * 4096) return;
    hpa::image::RgbImage image = hpa::image::decode_full(data, size);
    if (image.pixels.size() != size_t(image.width) * size_t(image.height) * 3) std::abort();
    const int scale = header.format == hpa::image::Format::jpeg ? 1 << (tail[0] % 4) : 1;
    const int width = hpa::image::scaled_side(header.width, scale);
    const int height = hpa::image::scaled_side(header.height, scale);
    hpa::image::Rect region;
    region.x = tail[1] % width;
    region.y = tail[2] % height;
    region.width = 1 + tail[3] % (width - region.x);
    region.height = 1 + (tail[3] >> 4) % (height - region.y);
    hpa::image::decode_region(data, size, region, scale, image);
    if (image.width < region.width || image.height != region.height) std::abort();
  });
}
