// Model shapes for `zili init`: random Llama checkpoints for tests, demos and benchmarks.
#pragma once

#include <string>

#include "model/config.h"

namespace zili::model {

// tiny (unit tests, well under 1M parameters at a 512 vocab), small (~10-30M), medium
// (~150M). The vocabulary size is the tokenizer's. zili::Error on an unknown name.
ModelConfig preset_config(const std::string& name, int64_t vocab_size);
const char* preset_names();  // "tiny, mini, small, medium"

}  // namespace zili::model
