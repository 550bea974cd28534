// Creating and opening run folders.
#include "train/run_folder.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

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

RunFolder open_run_folder(const std::string& run) {
  RunFolder folder{run};
  if (!fs::is_regular_file(folder.config()))
    fail("{}: not a run folder (no config.toml); --resume takes the --out of an earlier run", run);
  std::error_code error;
  fs::create_directories(fs::path(run) / "checkpoints", error);
  if (error) fail("{}: cannot create folder: {}", run, error.message());
  return folder;
}

std::string fingerprint_files(const std::vector<std::string>& paths) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  std::vector<char> buffer(1 << 20);
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("{}: cannot open", path);
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      for (std::streamsize i = 0; i < in.gcount(); ++i) {
        hash ^= static_cast<unsigned char>(buffer[i]);
        hash *= 0x100000001b3ull;  // FNV-1a 64 prime
      }
    }
  }
  return fmt::format("{:016x}", hash);
}

}  // namespace zili::train
