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
  std::string device = "auto";
  bool no_fused = false;
};

void add_model_flags(CLI::App& command, ModelFlags& flags);

struct Checkpoint {
  model::ModelConfig config;
  data::Tokenizer tokenizer;
};

// config.json and the tokenizer files, checked against each other (--dtype, --device and the
// adapter's config too). Checks only: nothing is loaded or switched.
Checkpoint open_checkpoint(const ModelFlags& flags);
// The weights on --device, in eval mode, with the --adapter applied when given; --no-fused
// applied. On a GPU, bf16/f16 weights compute in their dtype (model::compute_dtype_for).
model::LlamaForCausalLM load_weights(const ModelFlags& flags, const model::ModelConfig& config);

}  // namespace zili::cli
