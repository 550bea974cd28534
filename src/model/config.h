// config.json of a Llama-family checkpoint (LlamaForCausalLM, MistralForCausalLM), read
// strictly: a missing or mistyped key, an unknown architecture or an unsupported
// rope_scaling is a zili::Error naming the file and the key, never silently ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

namespace zili::model {

// RoPE frequency scaling: "default" (none), "linear" (positions / factor) or "llama3"
// (Llama 3.1's smooth low/high frequency split). Both the old `rope_scaling` + `rope_theta`
// keys and the newer `rope_parameters` object are read.
struct RopeScaling {
  std::string type = "default";
  double factor = 1.0;
  double low_freq_factor = 1.0;                  // llama3
  double high_freq_factor = 4.0;                 // llama3
  int64_t original_max_position_embeddings = 0;  // llama3
};

struct ModelConfig {
  std::string architecture;         // "LlamaForCausalLM" or "MistralForCausalLM"
  int64_t hidden_size = 0;          // C
  int64_t intermediate_size = 0;    // F
  int64_t num_hidden_layers = 0;    // L
  int64_t num_attention_heads = 0;  // H
  int64_t num_key_value_heads = 0;  // Hkv (GQA when < H)
  int64_t head_dim = 0;             // D (hidden_size / H unless given)
  int64_t vocab_size = 0;           // V
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  bool mlp_bias = false;
  // Mistral: a query sees only keys within the last W positions (absent key: 4096, as
  // transformers; null: no window).
  std::optional<int64_t> sliding_window;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;       // config.json allows an int or a list
  c10::ScalarType dtype = torch::kFloat32;  // torch_dtype / dtype: the checkpoint's storage
  nlohmann::json raw;  // the file as read, so that writing back keeps unknown keys

  bool is_mistral() const { return architecture == "MistralForCausalLM"; }
};

// Reads DIR/config.json (or a path to a .json file).
ModelConfig load_config(const std::string& dir_or_file);
// Parses an already loaded JSON object; `where` names it in errors.
ModelConfig parse_config(const nlohmann::json& json, const std::string& where);
// The JSON to write for `config`: its raw keys with every field above set to its value,
// in the names transformers writes.
nlohmann::json config_to_json(const ModelConfig& config);
void save_config(const ModelConfig& config, const std::string& dir);

// "float32" / "bfloat16" / "float16" and the short spellings f32, bf16, f16.
c10::ScalarType parse_dtype_name(const std::string& name, const std::string& where);
std::string dtype_config_name(c10::ScalarType dtype);

// Every tensor a checkpoint of this config holds, by Hugging Face name, with its shape.
struct ParameterShape {
  std::string name;
  std::vector<int64_t> shape;
};
std::vector<ParameterShape> parameter_shapes(const ModelConfig& config);

}  // namespace zili::model
