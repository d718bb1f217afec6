// What hpa-pack packs, in torchvision's order: an ImageFolder tree (SRC/<class>/.../<file>, classes
// the sorted folder names, files in sorted os.walk order) or the official flat validation folder
// labelled by LOC_val_solution.csv. Files are chosen by extension, case-insensitive; anything else
// is counted and left out. Nothing is read beyond names and sizes here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hpa::pack {

struct SourceFile {
  std::string relative_path;  // from the packed folder, '/'-separated
  int64_t label = 0;
  uint64_t size_bytes = 0;
  bool decodable = true;  // false: an image type torchvision would take that hpa cannot decode (.bmp, ...)
};

struct Listing {
  std::vector<std::string> classes;
  std::vector<SourceFile> files;
  int64_t ignored_files = 0;  // not images by their extension (.DS_Store, Thumbs.db, text)
  uint64_t total_bytes = 0;
};

// SRC/<class>/... . With `classes` non-empty (--classes-from) the folders must be among them and
// keep their indices; otherwise the sorted folder names are the classes.
Listing list_image_folder(const std::string& root, const std::vector<std::string>& classes);

// A flat folder of images labelled by a LOC_val_solution.csv ("ImageId,PredictionString" rows, the
// label being the first synset of the prediction string), classes indexed as in `classes`.
Listing list_validation_folder(const std::string& root, const std::string& solution_csv,
                               const std::vector<std::string>& classes);

// Lower-cased extension with its dot ("" when none).
std::string extension_of(const std::string& name);

}  // namespace hpa::pack
