// Reading and writing PEFT LoRA adapter folders.
#include "io/peft_adapter.h"

#include <cmath>
#include <filesystem>

#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::io {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";

bool present(const json& object, const char* key) {
  return object.contains(key) && !object.at(key).is_null();
}

// A PEFT option that changes the math and that zili does not implement: refused by name when
// set to anything but its "off" value.
void refuse_if_set(const json& object, const char* key, const std::string& where,
                   const char* what) {
  if (!present(object, key)) return;
  const json& value = object.at(key);
  const bool off = (value.is_boolean() && !value.get<bool>()) ||
                   (value.is_object() && value.empty()) || (value.is_array() && value.empty()) ||
                   (value.is_string() && (value == "none" || value.get<std::string>().empty()));
  if (!off)
    fail("{}: \"{}\" = {} ({}) is not supported by zili; train or convert the adapter without it",
         where, key, value.dump(), what);
}

double number(const json& object, const char* key, double fallback, const std::string& where) {
  if (!present(object, key)) return fallback;
  if (!object.at(key).is_number())
    fail("{}: \"{}\" must be a number, got {}", where, key, object.at(key).dump());
  return object.at(key).get<double>();
}

}  // namespace

double AdapterConfig::scaling() const {
  return use_rslora ? lora_alpha / std::sqrt(static_cast<double>(r)) : lora_alpha / r;
}

std::string peft_key(const std::string& module, char which) {
  return "base_model.model." + module + (which == 'A' ? ".lora_A.weight" : ".lora_B.weight");
}

AdapterConfig parse_adapter_config(const json& object, const std::string& where) {
  if (!object.is_object()) fail("{}: expected a JSON object", where);
  const std::string type = present(object, "peft_type") && object.at("peft_type").is_string()
                               ? object.at("peft_type").get<std::string>()
                               : "";
  if (type != "LORA")
    fail("{}: peft_type is \"{}\"; zili reads LoRA adapters (peft_type \"LORA\") only", where,
         type);
  refuse_if_set(object, "use_dora", where, "DoRA");
  refuse_if_set(object, "rank_pattern", where, "per-module ranks");
  refuse_if_set(object, "alpha_pattern", where, "per-module alphas");
  refuse_if_set(object, "modules_to_save", where, "fully trained extra modules");
  refuse_if_set(object, "lora_bias", where, "LoRA bias terms");
  refuse_if_set(object, "fan_in_fan_out", where, "transposed Conv1D weights");
  refuse_if_set(object, "layer_replication", where, "layer replication");
  refuse_if_set(object, "target_parameters", where, "LoRA on raw parameters");
  refuse_if_set(object, "trainable_token_indices", where, "trainable tokens");
  refuse_if_set(object, "exclude_modules", where, "excluded modules");
  refuse_if_set(object, "use_qalora", where, "QA-LoRA");
  refuse_if_set(object, "alora_invocation_tokens", where, "activated LoRA");
  if (present(object, "bias") && object.at("bias") != "none")
    fail("{}: \"bias\" = {} is not supported by zili (only \"none\")", where,
         object.at("bias").dump());

  AdapterConfig config;
  if (!present(object, "r") || !object.at("r").is_number_integer() ||
      object.at("r").get<int64_t>() <= 0)
    fail("{}: \"r\" must be a positive integer, got {}", where,
         present(object, "r") ? object.at("r").dump() : "nothing");
  config.r = object.at("r").get<int64_t>();
  config.lora_alpha = number(object, "lora_alpha", 8.0, where);  // PEFT's default alpha is 8
  config.lora_dropout = number(object, "lora_dropout", 0.0, where);
  if (!(config.lora_dropout >= 0 && config.lora_dropout < 1))
    fail("{}: \"lora_dropout\" must be in [0, 1), got {}", where, config.lora_dropout);
  if (present(object, "use_rslora")) {
    if (!object.at("use_rslora").is_boolean())
      fail("{}: \"use_rslora\" must be true or false", where);
    config.use_rslora = object.at("use_rslora").get<bool>();
  }
  if (!present(object, "target_modules"))
    fail("{}: no \"target_modules\": which modules does the adapter wrap?", where);
  const json& targets = object.at("target_modules");
  if (targets.is_string()) {
    if (targets == "all-linear")
      config.target_modules = {"all-linear"};
    else
      config.target_regex = targets.get<std::string>();
  } else if (targets.is_array()) {
    config.target_modules.clear();
    for (const json& name : targets) {
      if (!name.is_string())
        fail("{}: \"target_modules\" must hold strings, got {}", where, name.dump());
      config.target_modules.push_back(name.get<std::string>());
    }
  } else {
    fail("{}: \"target_modules\" must be a list of names or a string, got {}", where,
         targets.dump());
  }
  if (present(object, "layers_to_transform")) {
    const json& layers = object.at("layers_to_transform");
    std::vector<int64_t> list;
    if (layers.is_number_integer())
      list.push_back(layers.get<int64_t>());
    else if (layers.is_array())
      for (const json& layer : layers) {
        if (!layer.is_number_integer())
          fail("{}: \"layers_to_transform\" must hold integers", where);
        list.push_back(layer.get<int64_t>());
      }
    else
      fail("{}: \"layers_to_transform\" must be an integer or a list of them", where);
    config.layers_to_transform = list;
  }
  if (present(object, "init_lora_weights")) {
    const json& init = object.at("init_lora_weights");
    config.init_lora_weights = init.is_boolean()  ? (init.get<bool>() ? "true" : "false")
                               : init.is_string() ? init.get<std::string>()
                                                  : init.dump();
  }
  if (present(object, "base_model_name_or_path") &&
      object.at("base_model_name_or_path").is_string())
    config.base_model_name_or_path = object.at("base_model_name_or_path").get<std::string>();
  return config;
}

json adapter_config_json(const AdapterConfig& c) {
  json targets = c.target_regex ? json(*c.target_regex) : json(c.target_modules);
  json init = c.init_lora_weights == "true" ? json(true) : json(c.init_lora_weights);
  return {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"r", c.r},
      {"lora_alpha", c.lora_alpha},
      {"lora_dropout", c.lora_dropout},
      {"use_rslora", c.use_rslora},
      {"target_modules", targets},
      {"layers_to_transform", c.layers_to_transform ? json(*c.layers_to_transform) : json(nullptr)},
      {"layers_pattern", nullptr},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"init_lora_weights", init},
      {"use_dora", false},
      {"modules_to_save", nullptr},
      {"rank_pattern", json::object()},
      {"alpha_pattern", json::object()},
      {"inference_mode", true},
      {"base_model_name_or_path",
       c.base_model_name_or_path.empty() ? json(nullptr) : json(c.base_model_name_or_path)},
      {"revision", nullptr},
  };
}

AdapterFiles read_adapter(const std::string& dir) {
  if (!fs::is_directory(dir)) fail("{}: no such adapter folder", dir);
  const std::string config_path = (fs::path(dir) / kConfigFile).string();
  const std::string weights_path = (fs::path(dir) / kWeightsFile).string();
  if (!fs::exists(config_path))
    fail("{}: missing (is {} a PEFT adapter folder?)", config_path, dir);
  if (!fs::exists(weights_path)) {
    if (fs::exists(fs::path(dir) / "adapter_model.bin"))
      fail(
          "{}: missing; the adapter is in the pickle format (adapter_model.bin), which zili does "
          "not read: re-save it with safetensors (PEFT's save_pretrained does by default)",
          weights_path);
    fail("{}: missing (is {} a PEFT adapter folder?)", weights_path, dir);
  }
  json object = json::parse(read_file(config_path), nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) fail("{}: not valid JSON", config_path);
  return {parse_adapter_config(object, config_path), SafetensorsFile::open(weights_path)};
}

void write_adapter(const std::string& dir, const AdapterConfig& config,
                   const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  save_safetensors((fs::path(dir) / kWeightsFile).string(), tensors, {{"format", "pt"}});
  write_file_atomic((fs::path(dir) / kConfigFile).string(),
                    adapter_config_json(config).dump(2) + "\n");
}

}  // namespace zili::io
