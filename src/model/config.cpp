// Strict reading and writing of config.json: the keys every family shares; the family's own
// keys and defaults are in config_families.cpp.
#include "model/config.h"

#include <filesystem>

#include "model/config_families.h"
#include "model/config_reader.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::model {
namespace {

using nlohmann::json;
using Reader = ConfigReader;

struct ArchitectureName {
  const char* architecture;
  const char* model_type;
  Family family;
};
const ArchitectureName kArchitectures[] = {
    {"LlamaForCausalLM", "llama", Family::llama},
    {"MistralForCausalLM", "mistral", Family::mistral},
    {"Qwen2ForCausalLM", "qwen2", Family::qwen2},
    {"Qwen3ForCausalLM", "qwen3", Family::qwen3},
    {"Gemma2ForCausalLM", "gemma2", Family::gemma2},
    {"Gemma3ForCausalLM", "gemma3_text", Family::gemma3},
    {"Phi3ForCausalLM", "phi3", Family::phi3},
};
constexpr const char* kSupported =
    "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, "
    "Gemma2ForCausalLM, Gemma3ForCausalLM, Phi3ForCausalLM";

// Why an architecture zili does not run is refused, when there is more to say than its name.
std::string refusal_hint(const std::string& name) {
  if (name.find("Moe") != std::string::npos || name.find("Mixtral") != std::string::npos)
    return "; mixture-of-experts models (router and experts) are not supported";
  if (name == "Gemma3ForConditionalGeneration")
    return "; zili runs the text model only: extract the language model as Gemma3ForCausalLM";
  if (name.find("Vision") != std::string::npos || name.find("Siglip") != std::string::npos)
    return "; vision models are not supported";
  return "";
}

Family family_of(const Reader& config, std::string& architecture) {
  if (config.has("architectures")) {
    const json& list = config.object.at("architectures");
    if (!list.is_array() || list.empty() || !list[0].is_string())
      fail("{}: \"architectures\" must be a list of names, got {}", config.where, list.dump());
    architecture = list[0].get<std::string>();
    for (const auto& known : kArchitectures)
      if (architecture == known.architecture) return known.family;
    fail("{}: architecture {} is not supported (supported: {}){}", config.where, architecture,
         kSupported, refusal_hint(architecture));
  }
  const std::string type = config.string_or("model_type", "");
  for (const auto& known : kArchitectures) {
    if (type != known.model_type) continue;
    architecture = known.architecture;
    return known.family;
  }
  fail("{}: no \"architectures\" and model_type \"{}\" is not supported (supported: {})",
       config.where, type, kSupported);
}

const ArchitectureName& names_of(Family family) {
  for (const auto& known : kArchitectures)
    if (known.family == family) return known;
  TORCH_CHECK(false, "unknown family ", static_cast<int>(family));
}

}  // namespace

// rope_parameters (transformers >= 5) or rope_scaling (older files), with rope_theta.
void read_rope(const Reader& config, ModelConfig& out, double default_theta) {
  out.rope_theta = config.number_or("rope_theta", default_theta);
  const char* key = config.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
  if (!config.has(key)) return;
  const json& params = config.object.at(key);
  if (!params.is_object())
    fail("{}: \"{}\" must be an object, got {}", config.where, key, params.dump());
  const std::string where = fmt::format("{} ({})", config.where, key);
  const Reader rope{params, where};
  read_rope_object(rope, out);
}

void read_rope_object(const ConfigReader& rope, ModelConfig& out) {
  const std::string& where = rope.where;
  out.rope_theta = rope.number_or("rope_theta", out.rope_theta);
  // Phi-3 writes partial_rotary_factor (1.0 but for Phi-4-mini's 0.75).
  const double partial = rope.number_or("partial_rotary_factor", 1.0);
  if (partial != 1.0)
    fail("{}: partial_rotary_factor {} is not supported (zili rotates the whole head dim)", where,
         partial);
  std::string type = rope.string_or("rope_type", rope.string_or("type", "default"));
  RopeScaling& scaling = out.rope_scaling;
  scaling.type = type;
  if (type == "default") return;
  if (type != "linear" && type != "llama3")
    fail("{}: rope type \"{}\" is not supported (supported: default, linear, llama3){}", where,
         type,
         type == "longrope" || type == "su"
             ? "; Phi-3's long-context variants (longrope short/long factors) are not implemented"
             : "");
  if (!rope.has("factor")) fail("{}: missing required key \"factor\"", where);
  scaling.factor = rope.number_or("factor", 1.0);
  if (scaling.factor <= 0) fail("{}: \"factor\" must be positive, got {}", where, scaling.factor);
  if (type == "llama3") {
    scaling.low_freq_factor = rope.number_or("low_freq_factor", 1.0);
    scaling.high_freq_factor = rope.number_or("high_freq_factor", 4.0);
    if (scaling.high_freq_factor <= scaling.low_freq_factor)
      fail("{}: high_freq_factor ({}) must exceed low_freq_factor ({})", where,
           scaling.high_freq_factor, scaling.low_freq_factor);
    scaling.original_max_position_embeddings =
        rope.integer_or("original_max_position_embeddings", out.max_position_embeddings);
  }
}

namespace {

std::vector<int64_t> token_ids(const Reader& config, const char* key) {
  if (!config.has(key)) return {};
  const json& value = config.object.at(key);
  if (value.is_number_integer()) return {value.get<int64_t>()};
  std::vector<int64_t> ids;
  if (value.is_array()) {
    for (const json& id : value) {
      if (!id.is_number_integer()) break;
      ids.push_back(id.get<int64_t>());
    }
    if (ids.size() == value.size()) return ids;
  }
  fail("{}: \"{}\" must be an integer or a list of integers, got {}", config.where, key,
       value.dump());
}

}  // namespace

c10::ScalarType parse_dtype_name(const std::string& name, const std::string& where) {
  if (name == "float32" || name == "f32" || name == "fp32") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "f16" || name == "fp16") return torch::kFloat16;
  fail("{}: dtype \"{}\" is not supported (use float32, bfloat16 or float16)", where, name);
}

std::string dtype_config_name(c10::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32:
      return "float32";
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kFloat16:
      return "float16";
    default:
      TORCH_CHECK(false, "no config.json name for dtype ", dtype);
  }
}

ModelConfig parse_config(const json& object, const std::string& where) {
  if (!object.is_object()) fail("{}: expected a JSON object at the top level", where);
  const Reader config{object, where};
  ModelConfig out;
  out.raw = object;
  out.family = family_of(config, out.architecture);
  out.hidden_size = config.positive("hidden_size");
  out.intermediate_size = config.positive("intermediate_size");
  out.num_hidden_layers = config.positive("num_hidden_layers");
  out.num_attention_heads = config.positive("num_attention_heads");
  out.num_key_value_heads = config.integer_or("num_key_value_heads", out.num_attention_heads);
  out.vocab_size = config.positive("vocab_size");
  out.max_position_embeddings = config.integer_or("max_position_embeddings", 2048);
  if (out.num_key_value_heads <= 0 || out.num_attention_heads % out.num_key_value_heads != 0)
    fail("{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})", where,
         out.num_attention_heads, out.num_key_value_heads);
  if (config.has("head_dim")) {
    out.head_dim = config.positive("head_dim");
  } else if (const auto class_default = default_head_dim(out.family)) {
    out.head_dim = *class_default;  // Qwen3, Gemma: the config class's own default
  } else {
    if (out.hidden_size % out.num_attention_heads != 0)
      fail(
          "{}: hidden_size ({}) is not a multiple of num_attention_heads ({}) and no head_dim is "
          "given",
          where, out.hidden_size, out.num_attention_heads);
    out.head_dim = out.hidden_size / out.num_attention_heads;
  }
  if (out.head_dim % 2 != 0) fail("{}: head_dim ({}) must be even for RoPE", where, out.head_dim);
  out.attention_bias = config.boolean_or("attention_bias", false);
  out.o_proj_bias = out.attention_bias;
  out.mlp_bias = config.boolean_or("mlp_bias", false);
  read_family_options(config, out);  // norms, activation, caps, windows, RoPE, tying
  const auto bos = token_ids(config, "bos_token_id");
  if (!bos.empty()) out.bos_token_id = bos[0];
  out.eos_token_ids = token_ids(config, "eos_token_id");
  // transformers >= 5 writes "dtype"; older versions "torch_dtype".
  const std::string dtype = config.string_or("dtype", config.string_or("torch_dtype", "float32"));
  out.dtype = parse_dtype_name(dtype, where);
  return out;
}

ModelConfig load_config(const std::string& dir_or_file) {
  std::filesystem::path path(dir_or_file);
  if (!std::filesystem::exists(path))
    fail("{}: no such folder (give a Hugging Face checkpoint folder)", dir_or_file);
  if (std::filesystem::is_directory(path)) path /= "config.json";
  if (!std::filesystem::exists(path))
    fail("{}: no config.json (is this a Hugging Face checkpoint folder?)", path.string());
  const std::string text = read_file(path.string());
  json object = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) fail("{}: not valid JSON", path.string());
  return parse_config(object, path.string());
}

json config_to_json(const ModelConfig& config) {
  json out = config.raw.is_object() ? config.raw : json::object();
  out["architectures"] = {config.architecture};
  out["model_type"] = model_type_name(config.family);
  out["hidden_size"] = config.hidden_size;
  out["intermediate_size"] = config.intermediate_size;
  out["num_hidden_layers"] = config.num_hidden_layers;
  out["num_attention_heads"] = config.num_attention_heads;
  out["num_key_value_heads"] = config.num_key_value_heads;
  out["head_dim"] = config.head_dim;
  out["vocab_size"] = config.vocab_size;
  out["max_position_embeddings"] = config.max_position_embeddings;
  out["rms_norm_eps"] = config.rms_norm_eps;
  out["tie_word_embeddings"] = config.tie_word_embeddings;
  out["attention_bias"] = config.attention_bias;
  if (config.family == Family::llama) out["mlp_bias"] = config.mlp_bias;
  // Written in both spellings: rope_theta/rope_scaling for older readers (llama.cpp's
  // converter among them), rope_parameters for transformers >= 5.
  json rope = {{"rope_type", config.rope_scaling.type}, {"rope_theta", config.rope_theta}};
  json scaling = nullptr;
  if (config.rope_scaling.type != "default") {
    scaling = {{"rope_type", config.rope_scaling.type}, {"factor", config.rope_scaling.factor}};
    if (config.rope_scaling.type == "llama3") {
      scaling["low_freq_factor"] = config.rope_scaling.low_freq_factor;
      scaling["high_freq_factor"] = config.rope_scaling.high_freq_factor;
      scaling["original_max_position_embeddings"] =
          config.rope_scaling.original_max_position_embeddings;
    }
    rope.update(scaling);
  }
  out["rope_parameters"] = rope;
  out["rope_theta"] = config.rope_theta;
  out["rope_scaling"] = scaling;
  write_family_options(config, out);  // may replace rope_parameters (Gemma 3)
  if (config.bos_token_id) out["bos_token_id"] = *config.bos_token_id;
  if (config.eos_token_ids.size() == 1) out["eos_token_id"] = config.eos_token_ids[0];
  if (config.eos_token_ids.size() > 1) out["eos_token_id"] = config.eos_token_ids;
  out["torch_dtype"] = dtype_config_name(config.dtype);
  out["dtype"] = dtype_config_name(config.dtype);
  return out;
}

void save_config(const ModelConfig& config, const std::string& dir) {
  write_file_atomic((std::filesystem::path(dir) / "config.json").string(),
                    config_to_json(config).dump(2) + "\n");
}

bool ModelConfig::any_sliding_layer() const {
  for (int64_t layer = 0; layer < num_hidden_layers; ++layer)
    if (layer_is_sliding(layer)) return true;
  return false;
}

bool ModelConfig::any_full_layer() const {
  for (int64_t layer = 0; layer < num_hidden_layers; ++layer)
    if (!layer_is_sliding(layer)) return true;
  return false;
}

std::string model_type_name(Family family) {
  return names_of(family).model_type;
}

std::string architecture_of(Family family) {
  return names_of(family).architecture;
}

std::string arch_name(Family family) {
  return family == Family::gemma3 ? "gemma3" : model_type_name(family);
}

const char* arch_names() {
  return "llama, mistral, qwen2, qwen3, gemma2, gemma3, phi3";
}

Family parse_arch_name(const std::string& name) {
  for (const auto& known : kArchitectures)
    if (arch_name(known.family) == name) return known.family;
  fail("--arch: unknown architecture \"{}\" (choose one of: {})", name, arch_names());
}

std::vector<ParameterShape> parameter_shapes(const ModelConfig& c) {
  const int64_t C = c.hidden_size, F = c.intermediate_size, D = c.head_dim;
  const int64_t q_out = c.num_attention_heads * D, kv_out = c.num_key_value_heads * D;
  std::vector<ParameterShape> shapes;
  shapes.push_back({"model.embed_tokens.weight", {c.vocab_size, C}});
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    const std::string p = fmt::format("model.layers.{}.", layer);
    const auto linear = [&](const std::string& name, int64_t out, int64_t in, bool bias) {
      shapes.push_back({p + name + ".weight", {out, in}});
      if (bias) shapes.push_back({p + name + ".bias", {out}});
    };
    // In the order transformers registers them (so merged files list them alike).
    shapes.push_back({p + "input_layernorm.weight", {C}});
    if (c.fused_projections) {
      linear("self_attn.o_proj", C, q_out, false);
      linear("self_attn.qkv_proj", q_out + 2 * kv_out, C, false);  // [q; k; v] rows
    } else {
      linear("self_attn.q_proj", q_out, C, c.attention_bias);
      linear("self_attn.k_proj", kv_out, C, c.attention_bias);
      linear("self_attn.v_proj", kv_out, C, c.attention_bias);
      linear("self_attn.o_proj", C, q_out, c.o_proj_bias);
    }
    if (c.qk_norm) {
      shapes.push_back({p + "self_attn.q_norm.weight", {D}});
      shapes.push_back({p + "self_attn.k_norm.weight", {D}});
    }
    shapes.push_back({p + "post_attention_layernorm.weight", {C}});
    if (c.sandwich_norms) {
      shapes.push_back({p + "pre_feedforward_layernorm.weight", {C}});
      shapes.push_back({p + "post_feedforward_layernorm.weight", {C}});
    }
    if (c.fused_projections) {
      linear("mlp.gate_up_proj", 2 * F, C, false);  // [gate; up] rows
    } else {
      linear("mlp.gate_proj", F, C, c.mlp_bias);
      linear("mlp.up_proj", F, C, c.mlp_bias);
    }
    linear("mlp.down_proj", C, F, c.mlp_bias);
  }
  shapes.push_back({"model.norm.weight", {C}});
  if (!c.tie_word_embeddings) shapes.push_back({"lm_head.weight", {c.vocab_size, C}});
  return shapes;
}

}  // namespace zili::model
