// Output folders written aside and renamed into place.
#include "util/staging_dir.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace zili {

// True when `inner` is `outer` or lies inside it (after resolving links and "..").
static bool is_within(const fs::path& inner, const fs::path& outer) {
  std::error_code error;
  const fs::path a = fs::weakly_canonical(inner, error), b = fs::weakly_canonical(outer, error);
  auto [end, _] = std::mismatch(b.begin(), b.end(), a.begin(), a.end());
  return end == b.end();
}

StagingDir::StagingDir(std::string final_path, bool overwrite, const std::string& flag_hint,
                       const std::vector<std::string>& inputs)
    : final_(std::move(final_path)) {
  while (final_.size() > 1 && final_.back() == '/') final_.pop_back();
  for (const std::string& input : inputs)
    if (!input.empty() && is_within(input, final_))
      fail("{}: the output folder is or holds the input {}; write to another folder", final_,
           input);
  std::error_code error;
  if (fs::exists(final_)) {
    if (!fs::is_directory(final_))
      fail("{}: exists and is not a folder; choose another output path", final_);
    if (!fs::is_empty(final_) && !overwrite)
      fail("{}: folder exists and is not empty; pass {} to replace it, or choose another path",
           final_, flag_hint);
  }
  const fs::path parent = fs::absolute(final_).parent_path();
  fs::create_directories(parent, error);
  if (error) fail("{}: cannot create folder: {}", parent.string(), error.message());
  staging_ = temporary_path_beside(final_);
  fs::create_directory(staging_, error);
  if (error) fail("{}: cannot create folder: {}", staging_, error.message());
}

StagingDir::~StagingDir() {
  if (committed_) return;
  std::error_code ignored;
  fs::remove_all(staging_, ignored);
}

void StagingDir::commit() {
  std::error_code error;
  if (fs::exists(final_)) {
    // Move the old folder aside first, so a failed rename leaves it where it was.
    const std::string old = temporary_path_beside(final_);
    fs::rename(final_, old, error);
    if (error) fail("{}: cannot move the old folder aside: {}", final_, error.message());
    fs::rename(staging_, final_, error);
    if (error) {
      fs::rename(old, final_, error);
      fail("{}: cannot rename the finished folder into place", final_);
    }
    fs::remove_all(old, error);
  } else {
    fs::rename(staging_, final_, error);
    if (error)
      fail("{}: cannot rename the finished folder into place: {}", final_, error.message());
  }
  committed_ = true;
}

}  // namespace zili
