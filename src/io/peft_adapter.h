// The Hugging Face PEFT adapter folder: adapter_config.json (peft_type "LORA") and
// adapter_model.safetensors with keys base_model.model.<module>.lora_A.weight [r, in] and
// ...lora_B.weight [out, r]. PEFT features zili does not implement (DoRA, rank patterns,
// modules_to_save, LoRA biases, ...) are refused by name, never silently dropped.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"

namespace zili::io {

struct AdapterConfig {
  int64_t r = 8;
  double lora_alpha = 16;
  double lora_dropout = 0.0;
  bool use_rslora = false;
  // Module-name suffixes ("q_proj", ...) or, when target_regex is set, a regular expression
  // the whole module name must match (PEFT's string form). "all-linear" is expanded by zili.
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
  std::optional<std::string> target_regex;
  std::optional<std::vector<int64_t>> layers_to_transform;
  std::string init_lora_weights = "true";  // "true" (kaiming A, zero B) or "gaussian"
  std::string base_model_name_or_path;

  // s = alpha / r, or alpha / sqrt(r) with rsLoRA.
  double scaling() const;
};

// Reads and checks DIR/adapter_config.json; `where` names it in errors.
AdapterConfig parse_adapter_config(const nlohmann::json& json, const std::string& where);
nlohmann::json adapter_config_json(const AdapterConfig& config);

// PEFT's key of a module's A or B: "base_model.model." + module + ".lora_A.weight".
std::string peft_key(const std::string& module, char which);

struct AdapterFiles {
  AdapterConfig config;
  std::shared_ptr<SafetensorsFile> weights;  // adapter_model.safetensors
};

// zili::Error naming the file when the folder, either file, or a field is missing or wrong.
AdapterFiles read_adapter(const std::string& dir);

// Writes adapter_config.json and adapter_model.safetensors into DIR (each file atomically);
// `tensors` are named by their PEFT keys (peft_key).
void write_adapter(const std::string& dir, const AdapterConfig& config,
                   const std::vector<std::pair<std::string, torch::Tensor>>& tensors);

}  // namespace zili::io
