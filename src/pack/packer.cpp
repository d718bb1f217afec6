// The packing job; see packer.hpp. Workers claim files in listing order within a bounded window;
// the calling thread writes finished results strictly in order, so the pack is the same for any
// thread count.
#include "pack/packer.hpp"

#include "common/build_info.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "image/decode.hpp"
#include "image/encode.hpp"
#include "image/resample.hpp"
#include "pack/image_folder.hpp"
#include "store/image_pack.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <thread>

namespace hpa::pack {
namespace {

namespace fs = std::filesystem;

struct Result {
  bool ready = false;
  std::string error;  // non-empty: the file is bad
  std::vector<uint8_t> bytes;
  store::PackedImage image;
};

// Reads, checks and (with max_side) re-encodes one file.
void process(const fs::path& root, const SourceFile& file, const PackOptions& options, Result& result) {
  const std::string path = (root / file.relative_path).string();
  std::ifstream in(path, std::ios::binary);
  HPA_REQUIRE(in, "cannot open for reading");
  result.bytes.resize(file.size_bytes);
  in.read(reinterpret_cast<char*>(result.bytes.data()), static_cast<std::streamsize>(file.size_bytes));
  HPA_REQUIRE(in.gcount() == static_cast<std::streamsize>(file.size_bytes), "read failed");
  HPA_REQUIRE(file.decodable,
              "unsupported image type " << extension_of(file.relative_path) << " (hpa decodes JPEG and PNG)");
  const image::Header header = image::read_header(result.bytes.data(), result.bytes.size());
  image::RgbImage pixels = image::decode_full(result.bytes.data(), result.bytes.size());
  result.image.path = file.relative_path;
  result.image.label = file.label;
  result.image.height = header.height;
  result.image.width = header.width;
  result.image.format = static_cast<uint8_t>(header.format);
  result.image.components = static_cast<uint8_t>(header.components);
  const int longer = std::max(header.width, header.height);
  if (options.max_side > 0 && longer > options.max_side) {  // FFCV-style: smaller files, same aspect
    const double factor = static_cast<double>(options.max_side) / longer;
    const int width = std::max(1, static_cast<int>(std::lround(header.width * factor)));
    const int height = std::max(1, static_cast<int>(std::lround(header.height * factor)));
    image::RgbImage resized;
    resized.width = width;
    resized.height = height;
    resized.pixels.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
    std::vector<uint8_t> scratch;
    image::resample_rgb(pixels.pixels.data(), static_cast<size_t>(header.width) * 3,
                        image::make_axis(header.width, 0, header.width, width, 0, width),
                        image::make_axis(header.height, 0, header.height, height, 0, height),
                        resized.pixels.data(), scratch);
    result.bytes = image::encode_jpeg(resized, static_cast<int>(options.quality));
    result.image.height = height;
    result.image.width = width;
    result.image.format = static_cast<uint8_t>(image::Format::jpeg);
    result.image.components = 3;
  }
}

void validate_pack_options(const PackOptions& options) {
  HPA_REQUIRE(!options.out.empty(), "--out is required: the pack file to write");
  HPA_REQUIRE(options.overwrite || !fs::exists(options.out),
              "--out " << options.out << " already exists (pass --overwrite to replace it)");
  HPA_REQUIRE(options.val_solution.empty() || !options.classes_from.empty(),
              "--val-solution needs --classes-from TRAIN.h5 (the class indices of the training pack)");
  HPA_REQUIRE(options.max_side >= 0, "--max-side must be >= 0, got " << options.max_side);
  HPA_REQUIRE(options.quality >= 1 && options.quality <= 100,
              "--quality must be in 1..100, got " << options.quality);
  HPA_REQUIRE(options.threads >= 0, "--threads must be >= 0, got " << options.threads);
  const std::string out_folder = fs::path(options.out).parent_path().string();
  HPA_REQUIRE(out_folder.empty() || fs::is_directory(out_folder),
              "--out " << options.out << ": no folder " << out_folder);
}

// The files to pack: a class-per-folder tree, or a flat validation folder with its solution file.
Listing list_sources(const PackOptions& options) {
  std::vector<std::string> classes;
  if (!options.classes_from.empty()) classes = store::ImagePack::open(options.classes_from)->classes();
  Listing listing = options.val_solution.empty()
                        ? list_image_folder(options.source, classes)
                        : list_validation_folder(options.source, options.val_solution, classes);
  HPA_REQUIRE(!listing.files.empty(), options.source << ": no image files to pack");
  return listing;
}

// Processes the listing's files on `threads` workers, which claim files in order within a window of
// 4 per thread; next() hands back the results strictly in listing order. The destructor stops and
// joins the workers however the caller is left.
class OrderedWorkers {
 public:
  OrderedWorkers(const Listing& listing, const PackOptions& options, int threads)
      : listing_(listing),
        options_(options),
        root_(options.source),
        total_(static_cast<int64_t>(listing.files.size())),
        window_(4 * static_cast<int64_t>(threads)),
        results_(static_cast<size_t>(window_)) {
    for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { work(); });
  }

  ~OrderedWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      changed_.notify_all();
    }
    for (std::thread& worker : workers_) worker.join();
  }

  OrderedWorkers(const OrderedWorkers&) = delete;
  OrderedWorkers& operator=(const OrderedWorkers&) = delete;

  // The result of file `index`; called for 0, 1, 2, ... in turn.
  Result next(int64_t index) {
    std::unique_lock<std::mutex> lock(mutex_);
    Result& slot = results_[static_cast<size_t>(index % window_)];
    changed_.wait(lock, [&] { return slot.ready; });
    Result result = std::move(slot);
    slot = Result();
    taken_ = index + 1;
    changed_.notify_all();
    return result;
  }

 private:
  void work() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      changed_.wait(lock, [&] { return stop_ || next_claim_ == total_ || next_claim_ < taken_ + window_; });
      if (stop_ || next_claim_ == total_) return;
      const int64_t index = next_claim_++;
      lock.unlock();
      Result result;
      try {
        process(root_, listing_.files[static_cast<size_t>(index)], options_, result);
      } catch (const Error& error) {
        result.error = error.what();
      }
      result.ready = true;
      lock.lock();
      results_[static_cast<size_t>(index % window_)] = std::move(result);
      changed_.notify_all();
    }
  }

  const Listing& listing_;
  const PackOptions& options_;
  const fs::path root_;
  const int64_t total_, window_;
  std::vector<Result> results_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int64_t next_claim_ = 0, taken_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

store::PackAttributes pack_attributes(const PackOptions& options, const Listing& listing) {
  store::PackAttributes attributes;
  attributes.strings["source"] = fs::absolute(options.source).lexically_normal().string();
  attributes.strings["kind"] = options.val_solution.empty() ? "image-folder" : "validation-solution";
  attributes.strings["val_solution"] = options.val_solution;
  attributes.strings["classes_from"] = options.classes_from;
  attributes.strings["created"] = utc_now_iso8601();
  attributes.strings["hpa_version"] = build_info::hpa_version;
  attributes.strings["config"] = options.config_text;
  attributes.integers["max_side"] = options.max_side;
  attributes.integers["reencode_quality"] = options.max_side > 0 ? options.quality : 0;
  attributes.integers["num_ignored_files"] = listing.ignored_files;
  return attributes;
}

// What packing did: the counts, the speed, and the first 20 files left out.
struct PackTally {
  double start = wall_seconds();
  uint64_t bytes_read = 0;
  std::vector<std::string> skipped;
};

void print_pack_summary(const PackOptions& options, const Listing& listing,
                        const store::ImagePackWriter& writer, const PackTally& tally, std::ostream& log) {
  const double elapsed = wall_seconds() - tally.start;
  const double total = static_cast<double>(listing.files.size());
  log << "hpa-pack: packed " << writer.num_images() << " images (" << std::setprecision(1)
      << writer.num_bytes() / 1e6 << " MB) of " << listing.classes.size() << " classes into " << options.out
      << " in " << format_duration(elapsed) << ": " << std::setprecision(0) << total / elapsed << " files/s, "
      << std::setprecision(1) << tally.bytes_read / 1e6 / elapsed << " MB/s read; " << tally.skipped.size()
      << " bad file(s) skipped, " << listing.ignored_files << " non-image file(s) left out" << std::endl;
  for (size_t k = 0; k < tally.skipped.size() && k < 20; ++k) log << "  skipped " << tally.skipped[k] << "\n";
  if (tally.skipped.size() > 20)
    log << "  ... and " << tally.skipped.size() - 20 << " more (all in the pack's skipped/paths)\n";
}

}  // namespace

void pack_images(const PackOptions& options, std::ostream& log) {
  validate_pack_options(options);
  const Listing listing = list_sources(options);
  const int64_t total = static_cast<int64_t>(listing.files.size());
  const int threads = options.threads > 0
                          ? static_cast<int>(options.threads)
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  log << "hpa-pack: " << total << " images (" << std::fixed << std::setprecision(1)
      << listing.total_bytes / 1e6 << " MB) in " << listing.classes.size() << " classes from "
      << options.source << ", " << listing.ignored_files << " other file(s) left out; " << threads
      << " thread(s)" << std::endl;

  store::ImagePackWriter writer(options.out, listing.total_bytes);
  OrderedWorkers workers(listing, options, threads);
  PackTally tally;
  double last_progress = tally.start;
  for (int64_t index = 0; index < total; ++index) {
    const Result result = workers.next(index);
    const SourceFile& file = listing.files[static_cast<size_t>(index)];
    tally.bytes_read += file.size_bytes;
    if (!result.error.empty()) {
      const std::string path = (fs::path(options.source) / file.relative_path).string();
      HPA_REQUIRE(options.skip_bad, path << ": " << result.error
                                         << " (nothing was written; --skip-bad leaves such "
                                            "files out)");
      writer.record_skipped(file.relative_path, result.error);
      tally.skipped.push_back(path + ": " + result.error);
    } else {
      writer.append(result.image, result.bytes.data(), result.bytes.size());
    }
    const double now = wall_seconds();
    if (now - last_progress >= options.progress_seconds) {
      last_progress = now;
      const double rate = static_cast<double>(index + 1) / (now - tally.start);
      log << "hpa-pack: " << index + 1 << "/" << total << " files, " << std::setprecision(0) << rate
          << " files/s, " << std::setprecision(1) << tally.bytes_read / 1e6 / (now - tally.start)
          << " MB/s, ETA " << format_duration(static_cast<double>(total - index - 1) / rate) << std::endl;
    }
  }
  writer.commit(listing.classes, pack_attributes(options, listing));
  print_pack_summary(options, listing, writer, tally, log);
}

}  // namespace hpa::pack
