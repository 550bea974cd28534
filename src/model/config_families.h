// The keys and defaults of each family's config.json beyond the shared ones (config.cpp):
// which decoder options a family turns on, its window pattern and its RoPE, read and written
// as transformers' configuration_<family>.py applies them.
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "model/config.h"
#include "model/config_reader.h"

namespace zili::model {

// The head dim a family's config class assumes when config.json has none (Qwen3 128,
// Gemma 256); nullopt: hidden_size / num_attention_heads.
std::optional<int64_t> default_head_dim(Family family);

// Sets out's family options (norms, activation, caps, biases, windows, RoPE, tying) from the
// keys of `config`, after the shared ones; a zili::Error for an unsupported option.
void read_family_options(const ConfigReader& config, ModelConfig& out);

// Writes the family's own keys into `out` (config_to_json's object), in transformers' names.
void write_family_options(const ModelConfig& config, nlohmann::json& out);

// rope_parameters or rope_scaling with rope_theta (default `default_theta`); and one RoPE
// object's keys (rope_type, factor, ...). Unsupported types are refused by name.
void read_rope(const ConfigReader& config, ModelConfig& out, double default_theta);
void read_rope_object(const ConfigReader& rope, ModelConfig& out);

}  // namespace zili::model
