// The preset shapes. GQA everywhere (Hkv < H) so the grouped path is always exercised.
#include "model/presets.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace zili::model {

const char* preset_names() {
  return "tiny, mini, small, medium";
}

ModelConfig preset_config(const std::string& name, int64_t vocab_size, Family family) {
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
  if (family == Family::llama) return c;
  // Other families: the family's config.json for these shapes, read as any other, so the
  // options get exactly the defaults a checkpoint without those keys gets.
  nlohmann::json json = {{"architectures", {architecture_of(family)}},
                         {"hidden_size", c.hidden_size},
                         {"intermediate_size", c.intermediate_size},
                         {"num_hidden_layers", c.num_hidden_layers},
                         {"num_attention_heads", c.num_attention_heads},
                         {"num_key_value_heads", c.num_key_value_heads},
                         {"head_dim", c.head_dim},
                         {"vocab_size", c.vocab_size},
                         {"max_position_embeddings", c.max_position_embeddings},
                         {"rms_norm_eps", c.rms_norm_eps}};
  if (family == Family::mistral || family == Family::gemma2 || family == Family::gemma3)
    json["sliding_window"] = c.max_position_embeddings / 4;
  if (family == Family::gemma2 || family == Family::gemma3)
    json["query_pre_attn_scalar"] = c.head_dim;
  if (family == Family::gemma3)
    json["sliding_window_pattern"] = std::min<int64_t>(6, c.num_hidden_layers);
  ModelConfig out = parse_config(json, "--arch " + arch_name(family));
  out.bos_token_id = c.bos_token_id;
  out.eos_token_ids = c.eos_token_ids;
  return out;
}

}  // namespace zili::model
