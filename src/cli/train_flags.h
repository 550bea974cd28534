// The flags `zili sft` and `zili dpo` share (their spellings are an interface: scripts
// depend on them), --config recipes (CLI11 TOML, every key also a flag), and --resume, which
// takes the run's own config.toml and refuses a command line that contradicts it.
#pragma once

#include <CLI/CLI.hpp>

#include "dpo/preference_loss.h"
#include "train/train_options.h"

namespace zili::cli {

struct TrainFlags {
  train::TrainOptions* options = nullptr;
  std::string config_file;
};

void add_train_flags(CLI::App& command, TrainFlags& flags);

// Call first in the command's callback. Applies --config FILE, or with --resume RUN the
// run's RUN/config.toml: each key the command line did not give sets its option; a key no
// option has is an error naming the file. With --resume, a command-line value that differs
// from the run's is an error (except --threads, --log-every, --device and --no-fused). Then
// records every resolved setting as TOML in options->config_toml.
void resolve_train_flags(CLI::App& command, TrainFlags& flags);

// --loss and the settings of the preference losses (--beta, --label-smoothing, --simpo-gamma,
// --orpo-lambda, --sft-weight), shared by `zili dpo` and `zili dpo-loss`. Returns --beta,
// whose use with orpo the caller refuses (orpo's weight is --orpo-lambda).
CLI::Option* add_preference_flags(CLI::App& command, std::string& loss,
                                  dpo::PreferenceSettings& settings);

}  // namespace zili::cli
