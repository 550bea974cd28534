// What `generate` and `eval` share: --model and --dtype. Loading is in two steps so that a
// command checks its inputs against config.json and the tokenizer (cheap, and where most
// mistakes show) before it spends time loading the weights.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "data/tokenizer.h"
#include "model/config.h"
#include "model/llama.h"

namespace zili::cli {

struct ModelFlags {
  std::string model_dir;
  std::string adapter_dir;  // empty: the base model alone
  std::string dtype;        // empty: the checkpoint's
};

void add_model_flags(CLI::App& command, ModelFlags& flags);

struct Checkpoint {
  model::ModelConfig config;
  data::Tokenizer tokenizer;
};

// config.json and the tokenizer files, checked against each other (--dtype and the adapter's
// config too).
Checkpoint open_checkpoint(const ModelFlags& flags);
// The weights, in eval mode, with the --adapter applied when given.
model::LlamaForCausalLM load_weights(const ModelFlags& flags, const model::ModelConfig& config);

}  // namespace zili::cli
