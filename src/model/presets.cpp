// The preset shapes. GQA everywhere (Hkv < H) so the grouped path is always exercised.
#include "model/presets.h"

#include "util/error.h"

namespace zili::model {

const char* preset_names() {
  return "tiny, mini, small, medium";
}

ModelConfig preset_config(const std::string& name, int64_t vocab_size) {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.vocab_size = vocab_size;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-5;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  if (name == "tiny") {
    // 64 hidden, 2 layers: ~0.1M parameters plus 2 x 64 x V for the embeddings.
    c.hidden_size = 64, c.intermediate_size = 176, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.max_position_embeddings = 512;
  } else if (name == "mini") {
    // 256 hidden, 4 layers: ~2.9M in the layers plus 2 x 256 x V; the demo's base (a few MB
    // in bf16), trained on a CPU in minutes.
    c.hidden_size = 256, c.intermediate_size = 688, c.num_hidden_layers = 4;
    c.num_attention_heads = 8, c.num_key_value_heads = 4, c.max_position_embeddings = 1024;
  } else if (name == "small") {
    // 512 hidden, 8 layers: ~24M in the layers plus 2 x 512 x V.
    c.hidden_size = 512, c.intermediate_size = 1408, c.num_hidden_layers = 8;
    c.num_attention_heads = 8, c.num_key_value_heads = 4, c.max_position_embeddings = 2048;
  } else if (name == "medium") {
    // 1024 hidden, 12 layers: ~136M in the layers plus 2 x 1024 x V.
    c.hidden_size = 1024, c.intermediate_size = 2816, c.num_hidden_layers = 12;
    c.num_attention_heads = 16, c.num_key_value_heads = 4, c.max_position_embeddings = 2048;
  } else {
    fail("--preset: unknown preset \"{}\" (choose one of: {})", name, preset_names());
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  return c;
}

}  // namespace zili::model
