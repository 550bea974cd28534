// Model shapes for `zili init`: random checkpoints of any family for tests, demos and
// benchmarks.
#pragma once

#include <string>

#include "model/config.h"

namespace zili::model {

// tiny (unit tests, well under 1M parameters at a 512 vocab), small (~10-30M), medium
// (~150M). The vocabulary size is the tokenizer's. zili::Error on an unknown name.
// `family` picks the architecture: the preset's shapes with the family's options as its
// config class defaults them, except a sliding window of a quarter of the context for the
// families that slide by default (Mistral, Gemma), so the window is in reach, and Gemma 3's
// global layer every min(6, L) layers.
ModelConfig preset_config(const std::string& name, int64_t vocab_size,
                          Family family = Family::llama);
const char* preset_names();  // "tiny, mini, small, medium"

}  // namespace zili::model
