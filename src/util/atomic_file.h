// Files appear under their final name only when complete: written to a temporary name in
// the same folder, flushed and fsynced, then renamed over the target.
#pragma once

#include <string>

namespace zili {

// A fresh temporary path beside `path` (same folder, so rename() is atomic).
std::string temporary_path_beside(const std::string& path);

// Writes `content` to `path` atomically; zili::Error naming the path on any failure.
void write_file_atomic(const std::string& path, const std::string& content);

// Fails early (zili::Error) when `path` could not be created later: its folder is missing
// or not writable, or the path is a folder.
void check_writable_file(const std::string& path);

// Reads a whole file; zili::Error naming the path when it cannot be read.
std::string read_file(const std::string& path);

// fsync of an open descriptor's data, then rename(from, to) and fsync of the folder.
void sync_and_rename(int fd, const std::string& from, const std::string& to);

}  // namespace zili
