// What a run trains: LoRA adapters on the frozen base (the default), or with --full every
// weight of the model as an fp32 master copy. Both give the optimizer its two groups and
// know how to write themselves into a checkpoint and into the run's final output.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/peft_adapter.h"
#include "lora/lora_model.h"
#include "model/llama.h"

namespace zili::train {

class Trainable {
 public:
  // Fresh adapters (seeded), or the PEFT adapter in `from_dir` when given (a checkpoint).
  static Trainable lora(model::LlamaForCausalLMImpl& model, const io::AdapterConfig& config,
                        uint64_t seed, const std::string& from_dir = "");
  // Every parameter cast to fp32 and set to require grad.
  static Trainable full(model::LlamaForCausalLMImpl& model);

  std::vector<torch::Tensor> decayed;      // weight decay applies
  std::vector<torch::Tensor> not_decayed;  // biases and norm weights (full training)
  std::vector<torch::Tensor> all() const;

  // Dropout on while training, off for evaluation.
  void set_training(bool training);
  lora::LoraModel* lora_model() { return lora_ ? &*lora_ : nullptr; }

  // Into an existing folder: the PEFT adapter, or config.json + fp32 model.safetensors.
  void save_checkpoint_weights(const std::string& dir) const;
  // The run's result: the PEFT adapter (base_model_name_or_path = the base folder), or a
  // standalone checkpoint in `storage` dtype with the base's tokenizer files beside it.
  void save_final(const std::string& dir, const std::string& base_dir,
                  c10::ScalarType storage) const;

 private:
  model::LlamaForCausalLMImpl* model_ = nullptr;
  std::optional<lora::LoraModel> lora_;
};

}  // namespace zili::train
