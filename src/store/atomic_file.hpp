// Write-to-temporary, fsync, rename: the only way hpa puts a file in place. Internal to src/store.
#pragma once

#include <string>

namespace hpa::store {

// `path`.tmp: one writer (group) per file, the same name on every rank of it.
std::string temporary_path_for(const std::string& path);
// fsyncs `temporary`, renames it to `path`, fsyncs the parent directory.
void commit_file(const std::string& temporary, const std::string& path);

}  // namespace hpa::store
