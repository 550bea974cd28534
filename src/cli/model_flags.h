// What `generate` and `eval` share: --model and --dtype, turned into a loaded model and
// its tokenizer.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "data/tokenizer.h"
#include "model/llama.h"

namespace zili::cli {

struct ModelFlags {
  std::string model_dir;
  std::string dtype;  // empty: the checkpoint's
};

void add_model_flags(CLI::App& command, ModelFlags& flags);

struct LoadedModel {
  model::LlamaForCausalLM model{nullptr};
  data::Tokenizer tokenizer;
};

LoadedModel load_model_and_tokenizer(const ModelFlags& flags);

}  // namespace zili::cli
