// Creating and opening run folders.
#include "train/run_folder.h"

#include <exception>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "train/checkpoint.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace zili::train {

RunFolder create_run_folder(const std::string& out, const std::string& config_toml) {
  std::error_code error;
  if (fs::exists(out, error) && !(fs::is_directory(out) && fs::is_empty(out)))
    fail("{}: exists; choose another --out, or continue that run with --resume {}", out, out);
  fs::create_directories(fs::path(out) / "checkpoints", error);
  if (error) fail("{}: cannot create folder: {}", out, error.message());
  RunFolder run{out};
  write_file_atomic(run.config(), config_toml);
  return run;
}

NewRunCleanup::NewRunCleanup(std::string out) : out_(std::move(out)) {
  std::error_code error;
  if (out_.empty() || !fs::exists(out_, error)) return;
  if (fs::is_directory(out_, error) && fs::is_empty(out_, error))
    was_empty_folder_ = true;
  else
    out_.clear();  // someone else's files: create_run_folder refuses them, and they stay
}

NewRunCleanup::~NewRunCleanup() {
  if (out_.empty() || std::uncaught_exceptions() == 0 || latest_checkpoint(out_)) return;
  std::error_code error;
  if (!was_empty_folder_) {
    fs::remove_all(out_, error);
    return;
  }
  for (const auto& entry : fs::directory_iterator(out_, error)) fs::remove_all(entry.path(), error);
}

RunFolder open_run_folder(const std::string& run) {
  RunFolder folder{run};
  if (!fs::is_regular_file(folder.config()))
    fail("{}: not a run folder (no config.toml); --resume takes the --out of an earlier run", run);
  std::error_code error;
  fs::create_directories(fs::path(run) / "checkpoints", error);
  if (error) fail("{}: cannot create folder: {}", run, error.message());
  return folder;
}

// 64-bit FNV-1a: hash = (hash ^ byte) * prime, from the offset basis.
static uint64_t fnv1a(uint64_t hash, const char* bytes, size_t count) {
  for (size_t i = 0; i < count; ++i)
    hash = (hash ^ static_cast<unsigned char>(bytes[i])) * 0x100000001b3ull;
  return hash;
}
constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ull;

std::string fingerprint_text(const std::string& text) {
  return fmt::format("{:016x}", fnv1a(kFnvOffsetBasis, text.data(), text.size()));
}

std::string fingerprint_files(const std::vector<std::string>& paths) {
  uint64_t hash = kFnvOffsetBasis;
  std::vector<char> buffer(1 << 20);
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("{}: cannot open", path);
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      hash = fnv1a(hash, buffer.data(), static_cast<size_t>(in.gcount()));
    }
  }
  return fmt::format("{:016x}", hash);
}

}  // namespace zili::train
