// Strict reading and writing of config.json for Llama-family models.
#include "model/config.h"

#include <filesystem>

#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::model {
namespace {

using nlohmann::json;

const char* kSupported = "LlamaForCausalLM, MistralForCausalLM";

// Typed access with one error line naming the file and key.
struct Reader {
  const json& object;
  const std::string& where;

  bool has(const char* key) const { return object.contains(key) && !object.at(key).is_null(); }

  int64_t integer(const char* key) const {
    if (!has(key)) fail("{}: missing required key \"{}\"", where, key);
    return integer_value(object.at(key), key);
  }
  int64_t integer_or(const char* key, int64_t fallback) const {
    return has(key) ? integer_value(object.at(key), key) : fallback;
  }
  int64_t integer_value(const json& value, const char* key) const {
    if (!value.is_number_integer())
      fail("{}: \"{}\" must be an integer, got {}", where, key, value.dump());
    return value.get<int64_t>();
  }
  int64_t positive(const char* key) const {
    const int64_t value = integer(key);
    if (value <= 0) fail("{}: \"{}\" must be positive, got {}", where, key, value);
    return value;
  }
  double number_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!object.at(key).is_number())
      fail("{}: \"{}\" must be a number, got {}", where, key, object.at(key).dump());
    return object.at(key).get<double>();
  }
  bool boolean_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!object.at(key).is_boolean())
      fail("{}: \"{}\" must be true or false, got {}", where, key, object.at(key).dump());
    return object.at(key).get<bool>();
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!object.at(key).is_string())
      fail("{}: \"{}\" must be a string, got {}", where, key, object.at(key).dump());
    return object.at(key).get<std::string>();
  }
};

std::string architecture_of(const Reader& config) {
  if (config.has("architectures")) {
    const json& list = config.object.at("architectures");
    if (!list.is_array() || list.empty() || !list[0].is_string())
      fail("{}: \"architectures\" must be a list of names, got {}", config.where, list.dump());
    const std::string name = list[0].get<std::string>();
    if (name != "LlamaForCausalLM" && name != "MistralForCausalLM")
      fail("{}: architecture {} is not supported (supported: {})", config.where, name, kSupported);
    return name;
  }
  const std::string type = config.string_or("model_type", "");
  if (type == "llama") return "LlamaForCausalLM";
  if (type == "mistral") return "MistralForCausalLM";
  fail("{}: no \"architectures\" and model_type \"{}\" is not supported (supported: {})",
       config.where, type, kSupported);
}

// rope_parameters (transformers >= 5) or rope_scaling (older files), with rope_theta.
void read_rope(const Reader& config, ModelConfig& out) {
  out.rope_theta = config.number_or("rope_theta", 10000.0);
  const char* key = config.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
  if (!config.has(key)) return;
  const json& params = config.object.at(key);
  if (!params.is_object())
    fail("{}: \"{}\" must be an object, got {}", config.where, key, params.dump());
  const std::string where = fmt::format("{} ({})", config.where, key);
  const Reader rope{params, where};
  out.rope_theta = rope.number_or("rope_theta", out.rope_theta);
  std::string type = rope.string_or("rope_type", rope.string_or("type", "default"));
  RopeScaling& scaling = out.rope_scaling;
  scaling.type = type;
  if (type == "default") return;
  if (type != "linear" && type != "llama3")
    fail("{}: rope type \"{}\" is not supported (supported: default, linear, llama3)", where, type);
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
  out.architecture = architecture_of(config);
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
  } else {
    if (out.hidden_size % out.num_attention_heads != 0)
      fail(
          "{}: hidden_size ({}) is not a multiple of num_attention_heads ({}) and no head_dim is "
          "given",
          where, out.hidden_size, out.num_attention_heads);
    out.head_dim = out.hidden_size / out.num_attention_heads;
  }
  if (out.head_dim % 2 != 0) fail("{}: head_dim ({}) must be even for RoPE", where, out.head_dim);
  out.rms_norm_eps = config.number_or("rms_norm_eps", 1e-6);
  read_rope(config, out);
  out.tie_word_embeddings = config.boolean_or("tie_word_embeddings", false);
  out.attention_bias = config.boolean_or("attention_bias", false);
  out.mlp_bias = config.boolean_or("mlp_bias", false);
  const std::string act = config.string_or("hidden_act", "silu");
  if (act != "silu")
    fail("{}: hidden_act \"{}\" is not supported (Llama and Mistral use silu)", where, act);
  // Mistral: transformers' MistralConfig defaults to a 4096 window when the key is absent;
  // an explicit null means none.
  if (out.is_mistral()) {
    if (!object.contains("sliding_window"))
      out.sliding_window = 4096;
    else if (config.has("sliding_window"))
      out.sliding_window = config.positive("sliding_window");
  }
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
  out["model_type"] = config.is_mistral() ? "mistral" : "llama";
  out["hidden_size"] = config.hidden_size;
  out["intermediate_size"] = config.intermediate_size;
  out["num_hidden_layers"] = config.num_hidden_layers;
  out["num_attention_heads"] = config.num_attention_heads;
  out["num_key_value_heads"] = config.num_key_value_heads;
  out["head_dim"] = config.head_dim;
  out["vocab_size"] = config.vocab_size;
  out["max_position_embeddings"] = config.max_position_embeddings;
  out["rms_norm_eps"] = config.rms_norm_eps;
  out["hidden_act"] = "silu";
  out["tie_word_embeddings"] = config.tie_word_embeddings;
  out["attention_bias"] = config.attention_bias;
  out["mlp_bias"] = config.mlp_bias;
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
  if (config.is_mistral())
    out["sliding_window"] =
        config.sliding_window ? nlohmann::json(*config.sliding_window) : nlohmann::json(nullptr);
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
    shapes.push_back({p + "input_layernorm.weight", {C}});
    linear("self_attn.q_proj", q_out, C, c.attention_bias);
    linear("self_attn.k_proj", kv_out, C, c.attention_bias);
    linear("self_attn.v_proj", kv_out, C, c.attention_bias);
    linear("self_attn.o_proj", C, q_out, c.attention_bias);
    shapes.push_back({p + "post_attention_layernorm.weight", {C}});
    linear("mlp.gate_proj", F, C, c.mlp_bias);
    linear("mlp.up_proj", F, C, c.mlp_bias);
    linear("mlp.down_proj", C, F, c.mlp_bias);
  }
  shapes.push_back({"model.norm.weight", {C}});
  if (!c.tie_word_embeddings) shapes.push_back({"lm_head.weight", {c.vocab_size, C}});
  return shapes;
}

}  // namespace zili::model
