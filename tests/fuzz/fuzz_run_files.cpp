// The run directory's readers on arbitrary bytes: the first byte picks the file (run.h5, an
// epoch file, a checkpoint, reinit.h5), the rest is its content.
#include "fuzz_support.hpp"
#include "store/reinit_file.hpp"
#include "store/run_directory.hpp"

#include <filesystem>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  namespace store = hpa::store;
  const std::string run = hpa::fuzz::scratch_dir() + "/run";
  const uint8_t which = data[0] % 4;
  const std::string paths[] = {store::run_file_path(run), store::epoch_file_path(run, 0, 1),
                               store::checkpoint_path(run, 0), store::reinit_file_path(run)};
  const std::string& path = paths[which];
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  hpa::fuzz::write_file(path, data + 1, size - 1);
  return hpa::fuzz::guarded_hdf5([&] {
    switch (which) {
      case 0: (void)store::read_run(run); break;
      case 1:
        (void)store::read_epoch_params(path);
        (void)store::read_epoch_neg_fraction(path);
        break;
      case 2: {
        store::Checkpoint checkpoint;
        (void)store::read_checkpoint(run, 0, checkpoint);
        break;
      }
      default: {
        store::ReinitGrid grid;
        (void)store::read_reinit(run, grid);
      }
    }
  });
}
