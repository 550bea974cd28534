// The run folder (--out RUN): config.toml (every resolved setting), metrics.jsonl,
// checkpoints/step-N/, and the result: adapter/ (LoRA) or model/ (--full).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zili::train {

struct RunFolder {
  std::string root;
  std::string config() const { return root + "/config.toml"; }
  std::string metrics() const { return root + "/metrics.jsonl"; }
  std::string checkpoint(int64_t step) const {
    return root + "/checkpoints/step-" + std::to_string(step);
  }
  std::string result(bool full) const { return root + (full ? "/model" : "/adapter"); }
};

// A new run: RUN must not exist, or be an empty folder; config.toml is written first.
RunFolder create_run_folder(const std::string& out, const std::string& config_toml);
// Leaves nothing under a new run's --out when the run fails before its first checkpoint
// (data that turns out bad at step 1, a corrupt base, a full disk at the first save), so the
// same command can simply be run again: constructed before create_run_folder, its destructor,
// running while an exception leaves the command, removes what the run created (the folder,
// or only its contents when --out was an empty folder). A run with a checkpoint is kept for
// --resume; an empty `out` (a resumed run) disarms it.
class NewRunCleanup {
 public:
  explicit NewRunCleanup(std::string out);
  ~NewRunCleanup();
  NewRunCleanup(const NewRunCleanup&) = delete;
  NewRunCleanup& operator=(const NewRunCleanup&) = delete;

 private:
  std::string out_;
  bool was_empty_folder_ = false;
};

// A run to resume: zili::Error when RUN has no config.toml (not a run folder).
RunFolder open_run_folder(const std::string& run);

// 64-bit FNV-1a over the bytes of the files, as 16 hex digits: what a resumed run checks
// its data against.
std::string fingerprint_files(const std::vector<std::string>& paths);
// The same hash of a string.
std::string fingerprint_text(const std::string& text);

}  // namespace zili::train
