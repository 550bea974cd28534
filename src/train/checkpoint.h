// One training checkpoint, checkpoints/step-N/ in the run folder: the trainable weights
// (a PEFT adapter, or the full model with --full), the optimizer state, the random
// generator's state and the trainer state (step, data cursor, what the run is), written into
// a staging folder and renamed into place, so a step-N folder is always complete.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

namespace zili::train {

struct TrainerState {
  int64_t step = 0;         // optimizer steps done
  int64_t epoch = 0;        // the epoch the next batch comes from (0-based)
  int64_t next_batch = 0;   // index of the next batch in that epoch's plan
  int64_t tokens_seen = 0;  // real (non-padding) tokens trained on so far
  double elapsed_seconds = 0;
  std::string fingerprint;  // of the data and the settings that shape the run
  // Sums of each logged quantity ("loss", ...) over the steps since the last logged step, and
  // their count: a resumed run logs the same means as an uninterrupted one.
  std::map<std::string, double> window_sums;
  int64_t window_steps = 0;
};

nlohmann::json trainer_state_json(const TrainerState& state);
// zili::Error naming `where` when a field is missing or of the wrong type.
TrainerState parse_trainer_state(const nlohmann::json& json, const std::string& where);

// Writes DIR (the final name, e.g. RUN/checkpoints/step-40) through a staging folder:
// write_weights(staging) puts the weights in, then optimizer.safetensors,
// rng_state.safetensors and trainer_state.json follow. Replaces an existing DIR.
void save_checkpoint(const std::string& dir, const TrainerState& state,
                     torch::optim::AdamW& optimizer,
                     const std::function<void(const std::string&)>& write_weights);

// Restores the optimizer state and the CPU random generator from DIR and returns its trainer
// state (the caller loads the weights).
TrainerState load_checkpoint(const std::string& dir, torch::optim::AdamW& optimizer);

// The newest complete checkpoints/step-N folder of RUN (temporary folders of an interrupted
// save are ignored), or nullopt.
std::optional<std::string> latest_checkpoint(const std::string& run);

// Removes all but the newest `keep_last` step-N folders (keep_last <= 0 keeps all), and any
// staging folder an interrupted save left behind.
void prune_checkpoints(const std::string& run, int64_t keep_last);

}  // namespace zili::train
