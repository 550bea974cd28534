// The model shapes the benchmarks run: zili's presets, and two published Llama shapes.
#include "bench/bench.h"
#include "model/presets.h"
#include "util/error.h"

namespace zili::bench {

model::ModelConfig bench_shape(const std::string& name) {
  constexpr int64_t kVocab = 32000;  // Llama 1/2's
  if (name != "tiny" && name != "mini" && name != "small" && name != "medium" && name != "1b" &&
      name != "7b")
    fail("--shape {}: expected tiny, mini, small, medium, 1b or 7b", name);
  if (name != "1b" && name != "7b") return model::preset_config(name, kVocab);
  model::ModelConfig c = model::preset_config("tiny", kVocab);
  if (name == "1b") {  // TinyLlama-1.1B
    c.hidden_size = 2048, c.intermediate_size = 5632, c.num_hidden_layers = 22;
    c.num_attention_heads = 32, c.num_key_value_heads = 4;
  } else {  // Llama-2-7B
    c.hidden_size = 4096, c.intermediate_size = 11008, c.num_hidden_layers = 32;
    c.num_attention_heads = 32, c.num_key_value_heads = 32;
  }
  c.max_position_embeddings = 4096;
  c.head_dim = c.hidden_size / c.num_attention_heads;
  return c;
}

}  // namespace zili::bench
