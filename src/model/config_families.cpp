// Per-family config.json keys: read with the family's defaults, written back in the names
// transformers reads. Sources: transformers 5.23 configuration_{mistral,qwen2,qwen3,gemma2,
// gemma3,phi3}.py (their __post_init__ is where layer_types and windows are derived).
#include "model/config_families.h"

#include <cmath>

#include <fmt/format.h>

#include "util/error.h"

namespace zili::model {
namespace {

using nlohmann::json;

// hidden_act (hidden_activation for Gemma, whose modeling reads only that key).
void read_activation(const ConfigReader& config, ModelConfig& out) {
  if (out.is_gemma()) {
    const std::string act = config.string_or("hidden_activation", "gelu_pytorch_tanh");
    if (act != "gelu_pytorch_tanh")
      fail("{}: hidden_activation \"{}\" is not supported (Gemma uses gelu_pytorch_tanh)",
           config.where, act);
    out.gelu_tanh = true;
    return;
  }
  const std::string act = config.string_or("hidden_act", "silu");
  if (act != "silu")
    fail("{}: hidden_act \"{}\" is not supported ({} uses silu)", config.where, act,
         out.architecture);
}

// A window size: absent -> `fallback`, null -> none, else a positive integer.
std::optional<int64_t> window_or(const ConfigReader& config, std::optional<int64_t> fallback) {
  if (!config.present("sliding_window")) return fallback;
  if (!config.has("sliding_window")) return std::nullopt;
  return config.positive("sliding_window");
}

// layer_types: one "full_attention" / "sliding_attention" per layer; false where absent.
bool read_layer_types(const ConfigReader& config, ModelConfig& out) {
  if (!config.has("layer_types")) return false;
  const json& list = config.object.at("layer_types");
  if (!list.is_array() || static_cast<int64_t>(list.size()) != out.num_hidden_layers)
    fail("{}: \"layer_types\" must be a list of {} names (one per layer), got {}", config.where,
         out.num_hidden_layers, list.dump());
  out.sliding_layers.clear();
  for (const json& type : list) {
    if (type == "sliding_attention")
      out.sliding_layers.push_back(true);
    else if (type == "full_attention")
      out.sliding_layers.push_back(false);
    else
      fail("{}: layer type {} is not supported (supported: full_attention, sliding_attention)",
           config.where, type.dump());
  }
  return true;
}

// Which layers slide and how far, per family (transformers' __post_init__ of each config).
void read_windows(const ConfigReader& config, ModelConfig& out) {
  const int64_t L = out.num_hidden_layers;
  out.sliding_layers.assign(L, false);
  switch (out.family) {
    case Family::llama:
      return;
    case Family::mistral:  // every layer; absent: 4096, null: none
      out.sliding_window = window_or(config, 4096);
      out.sliding_layers.assign(L, true);
      return;
    case Family::phi3:  // every layer; absent or null: none
      out.sliding_window = window_or(config, std::nullopt);
      out.sliding_layers.assign(L, true);
      return;
    case Family::qwen2:
    case Family::qwen3: {
      // sliding_window counts only with use_sliding_window; then layers from
      // max_window_layers on slide, unless layer_types says otherwise.
      const bool use = config.boolean_or("use_sliding_window", false);
      out.sliding_window = use ? window_or(config, 4096) : std::nullopt;
      if (!read_layer_types(config, out)) {
        const int64_t first = config.integer_or("max_window_layers", 28);
        for (int64_t i = 0; i < L; ++i) out.sliding_layers[i] = out.sliding_window && i >= first;
      }
      break;
    }
    case Family::gemma2:
    case Family::gemma3: {
      if (config.boolean_or("use_bidirectional_attention", false))
        fail("{}: use_bidirectional_attention is not supported (zili's decoder is causal)",
             config.where);
      out.sliding_window = window_or(config, 4096);
      if (!read_layer_types(config, out)) {
        // Gemma 2 alternates (sliding first); Gemma 3 slides except every 6th layer.
        const int64_t pattern =
            out.family == Family::gemma2 ? 2 : config.integer_or("sliding_window_pattern", 6);
        if (pattern <= 0)
          fail("{}: \"sliding_window_pattern\" must be positive, got {}", config.where, pattern);
        for (int64_t i = 0; i < L; ++i) out.sliding_layers[i] = (i + 1) % pattern != 0;
      }
      break;
    }
  }
  for (int64_t i = 0; i < L; ++i)
    if (out.sliding_layers[i] && !out.sliding_window)
      fail("{}: layer {} is a sliding_attention layer but no sliding_window is set{}", config.where,
           i,
           out.family == Family::qwen2 || out.family == Family::qwen3
               ? " (use_sliding_window is false)"
               : "");
}

// Gemma 3: full layers use rope_parameters.full_attention (theta 1e6, optional scaling),
// sliding layers rope_parameters.sliding_attention (theta 1e4, no scaling). Older files:
// rope_theta + rope_scaling for full layers, rope_local_base_freq for sliding ones.
void read_gemma3_rope(const ConfigReader& config, ModelConfig& out) {
  const json* nested = nullptr;
  if (config.has("rope_parameters") &&
      config.object.at("rope_parameters").contains("full_attention"))
    nested = &config.object.at("rope_parameters");
  if (!nested) {
    read_rope(config, out, 1e6);
    out.rope_local_theta = config.number_or("rope_local_base_freq", 1e4);
    return;
  }
  const auto section = [&](const char* key) -> const json& {
    if (!nested->contains(key) || !nested->at(key).is_object())
      fail("{}: rope_parameters.{} must be an object", config.where, key);
    return nested->at(key);
  };
  const std::string full_where = fmt::format("{} (rope_parameters.full_attention)", config.where);
  out.rope_theta = 1e6;
  read_rope_object(ConfigReader{section("full_attention"), full_where}, out);
  const std::string local_where =
      fmt::format("{} (rope_parameters.sliding_attention)", config.where);
  const ConfigReader local{section("sliding_attention"), local_where};
  const std::string type = local.string_or("rope_type", "default");
  if (type != "default")
    fail("{}: rope type \"{}\" on sliding layers is not supported (supported: default)",
         local_where, type);
  out.rope_local_theta = local.number_or("rope_theta", 1e4);
}

std::optional<double> cap_or(const ConfigReader& config, const char* key,
                             std::optional<double> fallback) {
  if (!config.present(key)) return fallback;
  if (!config.has(key)) return std::nullopt;
  const double cap = config.number_or(key, 0.0);
  if (!(cap > 0)) fail("{}: \"{}\" must be positive or null, got {}", config.where, key, cap);
  return cap;
}

json optional_json(const std::optional<double>& value) {
  return value ? json(*value) : json(nullptr);
}

}  // namespace

std::optional<int64_t> default_head_dim(Family family) {
  if (family == Family::qwen3) return 128;
  if (family == Family::gemma2 || family == Family::gemma3) return 256;
  return std::nullopt;
}

void read_family_options(const ConfigReader& config, ModelConfig& out) {
  const Family family = out.family;
  out.rms_norm_eps = config.number_or("rms_norm_eps", family == Family::phi3 ? 1e-5 : 1e-6);
  out.tie_word_embeddings = config.boolean_or("tie_word_embeddings", out.is_gemma());
  read_activation(config, out);
  read_windows(config, out);
  if (family == Family::gemma3)
    read_gemma3_rope(config, out);
  else
    read_rope(config, out, 10000.0);
  // Biases: Llama reads attention_bias (all four) and mlp_bias; Qwen3 and Gemma
  // attention_bias only; Qwen2 always has q/k/v biases and no o_proj bias; Mistral and
  // Phi-3 none.
  if (family != Family::llama) out.mlp_bias = false;
  if (family == Family::mistral || family == Family::phi3) out.attention_bias = false;
  if (family == Family::qwen2) out.attention_bias = true;
  out.o_proj_bias = family == Family::qwen2 ? false : out.attention_bias;
  out.qk_norm = family == Family::qwen3 || family == Family::gemma3;
  out.fused_projections = family == Family::phi3;
  if (out.is_gemma()) {
    out.norm_weight_offset = 1.0;
    out.sandwich_norms = true;
    out.scale_embeddings = true;
    out.query_pre_attn_scalar = config.number_or("query_pre_attn_scalar", 256.0);
    if (!(*out.query_pre_attn_scalar > 0))
      fail("{}: \"query_pre_attn_scalar\" must be positive, got {}", config.where,
           *out.query_pre_attn_scalar);
    const bool gemma2 = family == Family::gemma2;
    out.attn_logit_softcapping =
        cap_or(config, "attn_logit_softcapping", gemma2 ? std::optional(50.0) : std::nullopt);
    out.final_logit_softcapping =
        cap_or(config, "final_logit_softcapping", gemma2 ? std::optional(30.0) : std::nullopt);
  }
}

void write_family_options(const ModelConfig& c, json& out) {
  out[c.is_gemma() ? "hidden_activation" : "hidden_act"] =
      c.gelu_tanh ? "gelu_pytorch_tanh" : "silu";
  const json window = c.sliding_window ? json(*c.sliding_window) : json(nullptr);
  if (c.family == Family::mistral || c.family == Family::phi3) out["sliding_window"] = window;
  // Phi-3's config class defaults pad_token_id to 32000, outside a small vocabulary: say none.
  if (c.family == Family::phi3 && !out.contains("pad_token_id")) out["pad_token_id"] = nullptr;
  const bool with_layer_types =
      c.family == Family::qwen2 || c.family == Family::qwen3 || c.is_gemma();
  if (with_layer_types) {
    json types = json::array();
    for (int64_t i = 0; i < c.num_hidden_layers; ++i)
      types.push_back(c.layer_is_sliding(i) ? "sliding_attention" : "full_attention");
    out["layer_types"] = types;
    out["sliding_window"] = window;
  }
  if (c.family == Family::qwen2 || c.family == Family::qwen3) {
    out["use_sliding_window"] = c.any_sliding_layer();
    if (!out.contains("max_window_layers")) out["max_window_layers"] = c.num_hidden_layers;
  }
  if (c.is_gemma()) {
    // An int in transformers' config class (strictly checked): written as one when whole.
    const double scalar = *c.query_pre_attn_scalar;
    out["query_pre_attn_scalar"] =
        scalar == std::floor(scalar) ? json(static_cast<int64_t>(scalar)) : json(scalar);
    out["attn_logit_softcapping"] = optional_json(c.attn_logit_softcapping);
    out["final_logit_softcapping"] = optional_json(c.final_logit_softcapping);
    out["use_bidirectional_attention"] = false;
  }
  if (c.family == Family::gemma3) {
    // The nested form transformers 5 writes, and the flat keys of older readers.
    json full = out["rope_parameters"];
    out["rope_parameters"] = {
        {"full_attention", full},
        {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", *c.rope_local_theta}}}};
    out["rope_local_base_freq"] = *c.rope_local_theta;
    out.erase("sliding_window_pattern");
  }
}

}  // namespace zili::model
