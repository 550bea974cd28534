// `zili eval` on a preference file: per pair, the policy's (base + --adapter) and the
// reference's (the base) log-probs of the chosen and rejected completions and the reward
// margin, then the summary metrics `zili dpo` logs.
#pragma once

#include <string>

#include "cli/model_flags.h"
#include "dpo/preference_loss.h"

namespace zili::cli {

struct PreferenceEvalOptions {
  ModelFlags model;
  std::string data, out, chat_template;
  dpo::PreferenceSettings settings;  // beta for the rewards; the loss is sigmoid
  int batch_size = 8;
};

// Whether the first line of FILE has "chosen" (a preference file).
bool is_preference_file(const std::string& path);

void run_preference_eval(const PreferenceEvalOptions& options);

}  // namespace zili::cli
