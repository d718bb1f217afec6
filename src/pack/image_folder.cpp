// Listing ImageFolder trees and the flat validation folder; see image_folder.hpp.
#include "pack/image_folder.hpp"

#include "common/error.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace hpa::pack {
namespace {

namespace fs = std::filesystem;

bool is_packable(const std::string& extension) {
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

// Image types torchvision's ImageFolder would take (IMG_EXTENSIONS) that hpa does not decode.
bool is_other_image(const std::string& extension) {
  static const std::set<std::string> others = {".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
  return others.count(extension) > 0;
}

// Lists `folder`: its files' names (sorted) and its subfolders.
void list_folder(const fs::path& folder, std::vector<std::string>& files, std::vector<fs::path>& subfolders) {
  std::error_code error;
  for (fs::directory_iterator it(folder, fs::directory_options::follow_directory_symlink, error), end;
       !error && it != end; it.increment(error)) {
    if (it->is_directory())
      subfolders.push_back(it->path());
    else
      files.push_back(it->path().filename().string());
  }
  HPA_REQUIRE(!error, folder.string() << ": cannot list: " << error.message());
  std::sort(files.begin(), files.end());
}

void add_file(const fs::path& root, const fs::path& path, int64_t label, Listing& listing) {
  const std::string extension = extension_of(path.filename().string());
  if (!is_packable(extension) && !is_other_image(extension)) {
    ++listing.ignored_files;
    return;
  }
  SourceFile file;
  file.relative_path = fs::relative(path, root).generic_string();
  file.label = label;
  file.size_bytes = fs::file_size(path);
  file.decodable = is_packable(extension);
  listing.total_bytes += file.size_bytes;
  listing.files.push_back(std::move(file));
}

// Appends the files under `directory` in the order of torchvision's sorted(os.walk(...)): every
// folder of the subtree sorted by its path text, files sorted by name within each.
void walk(const fs::path& root, const fs::path& directory, int64_t label, Listing& listing) {
  std::vector<fs::path> folders = {directory};
  std::vector<std::vector<std::string>> files(1);
  for (size_t k = 0; k < folders.size(); ++k) {
    std::vector<std::string> names;
    const fs::path folder = folders[k];  // a copy: listing appends to `folders`
    list_folder(folder, names, folders);
    files.resize(folders.size());
    files[k] = std::move(names);
  }
  std::vector<size_t> order(folders.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return folders[a].string() < folders[b].string(); });
  for (size_t k : order)
    for (const std::string& name : files[k]) add_file(root, folders[k] / name, label, listing);
}

}  // namespace

std::string extension_of(const std::string& name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return "";
  std::string extension = name.substr(dot);
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

Listing list_image_folder(const std::string& root_text, const std::vector<std::string>& classes) {
  const fs::path root(root_text);
  HPA_REQUIRE(fs::is_directory(root), root_text << ": no such directory");
  std::vector<std::string> folders;
  Listing listing;
  std::error_code error;
  for (fs::directory_iterator it(root, error), end; !error && it != end; it.increment(error)) {
    if (it->is_directory())
      folders.push_back(it->path().filename().string());
    else
      ++listing.ignored_files;  // ImageFolder looks only inside class folders
  }
  HPA_REQUIRE(!error, root_text << ": cannot list: " << error.message());
  std::sort(folders.begin(), folders.end());
  HPA_REQUIRE(!folders.empty(),
              root_text << ": no class folders (an ImageFolder tree is SRC/<class>/<image>)");
  std::map<std::string, int64_t> index;
  if (classes.empty()) {
    listing.classes = folders;
  } else {
    listing.classes = classes;
    for (const std::string& folder : folders)
      HPA_REQUIRE(std::find(classes.begin(), classes.end(), folder) != classes.end(),
                  root_text << "/" << folder << ": not a class of --classes-from");
  }
  for (size_t k = 0; k < listing.classes.size(); ++k) index[listing.classes[k]] = static_cast<int64_t>(k);
  for (const std::string& folder : folders) {
    const size_t before = listing.files.size();
    walk(root, root / folder, index.at(folder), listing);
    HPA_REQUIRE(listing.files.size() > before,
                root_text << "/" << folder << ": no image files in this class folder (.jpg, .jpeg or .png)");
  }
  return listing;
}

Listing list_validation_folder(const std::string& root_text, const std::string& solution_csv,
                               const std::vector<std::string>& classes) {
  const fs::path root(root_text);
  HPA_REQUIRE(fs::is_directory(root), root_text << ": no such directory");
  std::map<std::string, int64_t> class_index;
  for (size_t k = 0; k < classes.size(); ++k) class_index[classes[k]] = static_cast<int64_t>(k);

  std::ifstream csv(solution_csv);
  HPA_REQUIRE(csv, "--val-solution " << solution_csv << ": cannot open for reading");
  std::map<std::string, int64_t> label_of;  // image id -> label
  std::string line;
  int64_t line_number = 0;
  while (std::getline(csv, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_number == 1 && line.rfind("ImageId,", 0) == 0) continue;  // the header
    if (line.empty()) continue;
    const auto where = [&] { return solution_csv + ":" + std::to_string(line_number); };
    const size_t comma = line.find(',');
    HPA_REQUIRE(comma != std::string::npos && comma > 0,
                where() << ": expected 'ImageId,PredictionString', got '" << line.substr(0, 80) << "'");
    const std::string id = line.substr(0, comma);
    const size_t synset_start = line.find_first_not_of(' ', comma + 1);
    HPA_REQUIRE(synset_start != std::string::npos, where() << ": " << id << " has an empty PredictionString");
    const std::string synset = line.substr(synset_start, line.find(' ', synset_start) - synset_start);
    const auto found = class_index.find(synset);
    HPA_REQUIRE(found != class_index.end(), where() << ": " << id << " is labelled '" << synset
                                                    << "', which is not a class of --classes-from");
    HPA_REQUIRE(label_of.emplace(id, found->second).second, where() << ": " << id << " is listed twice");
  }
  HPA_REQUIRE(!label_of.empty(), "--val-solution " << solution_csv << ": no rows");

  Listing listing;
  listing.classes = classes;
  std::vector<std::string> names;
  std::error_code error;
  for (fs::directory_iterator it(root, error), end; !error && it != end; it.increment(error))
    if (!it->is_directory()) names.push_back(it->path().filename().string());
  HPA_REQUIRE(!error, root_text << ": cannot list: " << error.message());
  std::sort(names.begin(), names.end());
  std::set<std::string> seen;
  for (const std::string& name : names) {
    const std::string extension = extension_of(name);
    const std::string id = name.substr(0, name.size() - extension.size());
    const auto found = label_of.find(id);
    const size_t before = listing.files.size();
    add_file(root, root / name, found == label_of.end() ? 0 : found->second, listing);
    if (listing.files.size() == before) continue;  // not an image
    HPA_REQUIRE(found != label_of.end(),
                root_text << "/" << name << ": image " << id << " has no row in " << solution_csv);
    seen.insert(id);
  }
  if (seen.size() != label_of.size()) {
    for (const auto& [id, label] : label_of)
      HPA_REQUIRE(seen.count(id), solution_csv << ": " << label_of.size() - seen.size()
                                               << " listed image(s) are not in " << root_text
                                               << " (the first: " << id << ")");
  }
  return listing;
}

}  // namespace hpa::pack
