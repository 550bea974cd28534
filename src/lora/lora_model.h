// LoRA on a loaded model: which linear layers an adapter wraps (PEFT's matching rules),
// creating fresh adapters or loading PEFT ones, saving in the PEFT layout, and a scoped guard
// that switches every adapter off so the same model in memory serves as the DPO reference.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/peft_adapter.h"
#include "lora/lora_linear.h"
#include "model/config.h"
#include "model/llama.h"

namespace zili::lora {

// The linear layers LoRA may wrap in `base`, by module-name suffix (Phi-3: qkv_proj, o_proj,
// gate_up_proj, down_proj); "all-linear" means all of them (every linear but lm_head, as PEFT).
std::vector<std::string> linear_suffixes(const model::ModelConfig& base);

// The base's module names ("model.layers.3.self_attn.q_proj") that `config` targets: a name
// matches a target t when it equals t or ends with "." + t (or, for a regex target, when the
// whole name matches), restricted to layers_to_transform when given. Matching nothing at all
// is a zili::Error (PEFT's "not found in the base model"); with `each_target_must_match`
// (new adapters, where a typo should not pass silently) so is any target that matches nothing.
// `where` names the source (adapter_config.json, or the flags) in errors.
std::vector<std::string> targeted_modules(const model::ModelConfig& base,
                                          const io::AdapterConfig& config, const std::string& where,
                                          bool each_target_must_match = false);

// One targeted module and the shapes of its A [r, in] and B [out, r].
struct AdapterTarget {
  std::string module;  // "model.layers.0.self_attn.q_proj"
  int64_t in = 0, out = 0;
};

// Checks an adapter against the shapes the base's config.json implies, from the headers only
// (before anything is loaded): every targeted module's A and B present, floating point and of
// the right shape, and no tensor left over. One error naming the tensor and both shapes.
std::vector<AdapterTarget> check_adapter(const model::ModelConfig& base,
                                         const io::AdapterFiles& adapter);

// A new adapter's config from the flags every command spells the same way (--lora-r,
// --lora-alpha, --lora-dropout, --rslora, --lora-targets: a comma list or all-linear), checked
// against the base: a value out of range or a target that matches nothing is a zili::Error
// naming the flag.
io::AdapterConfig adapter_config_from_flags(const model::ModelConfig& base, int64_t r, double alpha,
                                            double dropout, bool rslora, const std::string& targets,
                                            const std::string& base_dir);

// "0-15" or "0,2,5-7" -> the layer indices, each below `layers`; zili::Error on bad text.
std::vector<int64_t> parse_layer_list(const std::string& text, int64_t layers);

class LoraModel {
 public:
  struct Entry {
    std::string module;  // "model.layers.0.self_attn.q_proj"
    std::shared_ptr<LoraAdapter> adapter;
  };

  // New adapters on the targeted layers: A ~ kaiming-uniform (U(-1/sqrt(in), 1/sqrt(in)),
  // PEFT's default) or N(0, 1/r^2) with init_lora_weights "gaussian"; B = 0, so the model's
  // output is unchanged. Seeded.
  static LoraModel create(model::LlamaForCausalLMImpl& model, io::AdapterConfig config,
                          uint64_t seed);
  // The PEFT adapter in DIR on `model`; a tensor missing, extra, or of the wrong shape (another
  // r than the config says, another model's sizes) is one error naming it and both shapes.
  static LoraModel load(model::LlamaForCausalLMImpl& model, const std::string& dir);

  // adapter_config.json + adapter_model.safetensors into DIR (an existing folder).
  void save(const std::string& dir) const;
  // Every A and B, fp32: what the optimizer trains.
  std::vector<torch::Tensor> parameters() const;
  void set_training(bool training);
  void set_enabled(bool enabled);
  bool enabled() const { return enabled_; }
  const io::AdapterConfig& config() const { return config_; }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  io::AdapterConfig config_;
  std::vector<Entry> entries_;
  bool enabled_ = true;
};

// While alive, every adapter of `lora` is off: forwards give the base model's logits bit for
// bit. Restores the previous state when it goes out of scope.
class AdaptersDisabled {
 public:
  explicit AdaptersDisabled(LoraModel& lora) : lora_(lora), was_enabled_(lora.enabled()) {
    lora_.set_enabled(false);
  }
  ~AdaptersDisabled() { lora_.set_enabled(was_enabled_); }
  AdaptersDisabled(const AdaptersDisabled&) = delete;
  AdaptersDisabled& operator=(const AdaptersDisabled&) = delete;

 private:
  LoraModel& lora_;
  bool was_enabled_;
};

}  // namespace zili::lora
