// Atomic file writes: temporary name, fsync, rename, fsync of the folder.
#include "util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "util/error.h"

namespace zili {

std::string temporary_path_beside(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  std::random_device entropy;
  return fmt::format("{}.tmp-{}-{:x}{:x}", path, getpid(), counter++, entropy());
}

static void sync_folder_of(const std::string& path) {
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (folder.empty()) folder = ".";
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some file systems refuse to open folders
  ::fsync(fd);
  ::close(fd);
}

void sync_and_rename(int fd, const std::string& from, const std::string& to) {
  if (::fsync(fd) != 0) fail("{}: cannot flush to disk: {}", to, std::strerror(errno));
  if (std::rename(from.c_str(), to.c_str()) != 0)
    fail("{}: cannot rename the finished file into place: {}", to, std::strerror(errno));
  sync_folder_of(to);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = temporary_path_beside(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail("{}: cannot create file: {}", path, std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      std::remove(tmp.c_str());
      fail("{}: write failed: {} (nothing was written under this name)", path, why);
    }
    done += static_cast<size_t>(n);
  }
  try {
    sync_and_rename(fd, tmp, path);
  } catch (...) {
    ::close(fd);
    std::remove(tmp.c_str());
    throw;
  }
  ::close(fd);
}

void check_writable_file(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  if (fs::is_directory(path)) fail("{}: is a folder; give a file name", path);
  if (!fs::is_directory(folder)) fail("{}: folder {} does not exist", path, folder.string());
  if (::access(folder.c_str(), W_OK) != 0)
    fail("{}: folder {} is not writable", path, folder.string());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot read file: {}", path, std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) fail("{}: read failed", path);
  return out.str();
}

}  // namespace zili
