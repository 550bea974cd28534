// config.json of a decoder checkpoint (Llama, Mistral, Qwen2, Qwen3, Gemma 2, Gemma 3, Phi-3),
// read strictly: a missing or mistyped key, an unknown architecture or an unsupported option
// is a zili::Error naming the file and the key, never silently ignored. Each family is a few
// options of the one decoder (norm offset, q/k norms, caps, window pattern, fused projections),
// set here from the family's keys and defaults as transformers applies them.
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

// The families zili runs, by transformers' model_type.
enum class Family { llama, mistral, qwen2, qwen3, gemma2, gemma3, phi3 };

struct ModelConfig {
  std::string architecture;  // "LlamaForCausalLM", "Qwen2ForCausalLM", ...
  Family family = Family::llama;
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
  bool attention_bias = false;  // q/k/v biases (and o_proj's when o_proj_bias)
  bool o_proj_bias = false;     // Qwen2: biases on q/k/v only
  bool mlp_bias = false;
  // A query of a sliding layer sees only keys within the last W positions. Mistral and Phi-3:
  // every layer once a window is set; Qwen2/3: layers from max_window_layers on when
  // use_sliding_window; Gemma: the layer_types pattern.
  std::optional<int64_t> sliding_window;
  std::vector<bool> sliding_layers;  // [L]: true where the window applies
  // Decoder options of the families beyond Llama, each read where it acts.
  bool qk_norm = false;             // Qwen3, Gemma 3: RMSNorm over D of each q and k head
  double norm_weight_offset = 0.0;  // Gemma: RMSNorm scales by (offset + weight) = (1 + w)
  bool sandwich_norms = false;      // Gemma: norms after attention and around the MLP too
  bool gelu_tanh = false;           // Gemma: GeGLU gelu_tanh(gate) * up instead of SwiGLU
  bool scale_embeddings = false;    // Gemma: embeddings times sqrt(C) in the weights' dtype
  std::optional<double> query_pre_attn_scalar;    // Gemma: scores scaled by it^-1/2, not D^-1/2
  std::optional<double> attn_logit_softcapping;   // Gemma 2: scores = cap tanh(scores / cap)
  std::optional<double> final_logit_softcapping;  // Gemma 2: logits = cap tanh(logits / cap)
  std::optional<double> rope_local_theta;         // Gemma 3: sliding layers' RoPE base (no scaling)
  bool fused_projections = false;                 // Phi-3: qkv_proj and gate_up_proj
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;       // config.json allows an int or a list
  c10::ScalarType dtype = torch::kFloat32;  // torch_dtype / dtype: the checkpoint's storage
  nlohmann::json raw;  // the file as read, so that writing back keeps unknown keys

  bool is_mistral() const { return family == Family::mistral; }
  bool is_gemma() const { return family == Family::gemma2 || family == Family::gemma3; }
  bool layer_is_sliding(int64_t layer) const {
    return sliding_window && !sliding_layers.empty() && sliding_layers.at(layer);
  }
  bool any_sliding_layer() const;
  bool any_full_layer() const;
};

// "llama", "qwen2", "gemma3_text", ... (model_type) and "llama", "qwen2", "gemma3" (--arch).
std::string model_type_name(Family family);
std::string arch_name(Family family);
// --arch NAME -> the family and its architecture name; a zili::Error for another name.
Family parse_arch_name(const std::string& name);
std::string architecture_of(Family family);
const char* arch_names();  // "llama, mistral, qwen2, qwen3, gemma2, gemma3, phi3"

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
