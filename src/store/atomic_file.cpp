// POSIX durability steps of atomic_file.hpp.
#include "store/atomic_file.hpp"

#include "common/error.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace hpa::store {
namespace {

void fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) HPA_FAIL(path << ": cannot open to fsync: " << std::strerror(errno));
  const int result = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (result != 0) HPA_FAIL(path << ": fsync failed: " << std::strerror(saved));
}

}  // namespace

std::string temporary_path_for(const std::string& path) {
  // The same name on every rank of a parallel writer; one writer group per file, so no clash.
  return path + ".tmp";
}

void commit_file(const std::string& temporary, const std::string& path) {
  fsync_path(temporary, O_RDONLY);
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    std::remove(temporary.c_str());
    HPA_FAIL(path << ": cannot rename " << temporary << " into place: " << std::strerror(saved));
  }
  std::string parent = std::filesystem::path(path).parent_path().string();
  fsync_path(parent.empty() ? "." : parent, O_RDONLY | O_DIRECTORY);
}

}  // namespace hpa::store
