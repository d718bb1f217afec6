// hpa-pack's packing job: lists the source folder, reads and checks every image on a pool of
// threads (a full decode, so truncated and corrupt files are found now, not during training),
// optionally re-encodes large images, and writes the pack in listing order under a temporary name
// that is renamed only when complete. Progress lines give files/s, MB/s and the ETA.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace hpa::pack {

struct PackOptions {
  std::string source;        // the folder to pack
  std::string out;           // FILE.h5
  std::string val_solution;  // LOC_val_solution.csv: source is the flat validation folder
  std::string classes_from;  // a train pack whose classes (and indices) the new pack uses
  int64_t threads = 0;       // 0: every core
  bool skip_bad = false;     // leave out (and list) unreadable images instead of failing
  bool overwrite = false;    // replace an existing --out (only once the new pack is complete)
  int64_t max_side = 0;      // re-encode images whose longer side exceeds this (0: copy bytes as they are)
  int64_t quality = 90;      // JPEG quality of re-encoded images
  double progress_seconds = 10;
  std::string config_text;  // the resolved options, stored in the pack
};

// Packs; throws hpa::Error with one line naming the file or option at fault, leaving --out as it was.
void pack_images(const PackOptions& options, std::ostream& log);

}  // namespace hpa::pack
