// The image pack reader (HDF5 index, then each sample's bytes by offset) on arbitrary bytes.
#include "fuzz_support.hpp"
#include "store/image_pack.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = hpa::fuzz::write_scratch("pack.h5", data, size);
  return hpa::fuzz::guarded_hdf5([&] {
    auto pack = hpa::store::ImagePack::open(path);
    (void)pack->attributes();
    std::vector<uint8_t> bytes;
    for (int64_t i = 0; i < pack->size() && i < 64; ++i) {
      pack->read(i, bytes);
      (void)pack->describe(i);
    }
  });
}
