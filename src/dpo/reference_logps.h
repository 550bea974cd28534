// The reference model's log-probs of each pair's chosen and rejected completions, for the
// DPO-family losses. The reference is the policy's own weights with the adapters off (or set
// to the frozen --init-adapter): never a second copy of the model. Each pair is computed
// alone, under no-grad, so its numbers do not depend on the batch it lands in: computed once
// when first needed and kept, or all up front (--precompute-ref) and stored in the run folder.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "data/preference_data.h"
#include "lora/lora_model.h"
#include "model/llama.h"

namespace zili::dpo {

class ReferenceLogps {
 public:
  // `lora` null: full training, where the reference must be computed before the first update
  // (precompute_all). With `frozen_adapter_dir` (--init-adapter), the adapters hold that
  // adapter's A/B while the reference is computed, instead of being switched off.
  ReferenceLogps(model::LlamaForCausalLMImpl& model, lora::LoraModel* lora,
                 const std::string& frozen_adapter_dir, int64_t pad_id, int64_t chunk_tokens);

  // {chosen, rejected} summed log-probs of pairs[i] of the set `set` (0: train, 1: eval).
  std::pair<double, double> get(int set, const std::vector<data::TokenizedPair>& pairs,
                                size_t index);
  // Every pair of the set now (a progress line in the log every 10%).
  void precompute_all(int set, const std::vector<data::TokenizedPair>& pairs);
  bool complete(int set, size_t pairs) const;

  // RUN/reference_logps.safetensors: both sets, and `key` (the base model, the adapter it
  // starts from, the data and the tokenization settings) in the metadata.
  void save(const std::string& path, const std::string& key) const;
  // The key stored in such a file ("" when it has none); zili::Error when it is unreadable.
  static std::string key_of(const std::string& path);
  // True when the file exists and holds `key` with the given set sizes; then loaded.
  bool load(const std::string& path, const std::string& key, size_t train_pairs, size_t eval_pairs);

 private:
  std::pair<double, double> compute(const data::TokenizedPair& pair);

  model::LlamaForCausalLMImpl& model_;
  lora::LoraModel* lora_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> frozen_;  // [entry] (A, B) of the reference
  int64_t pad_id_, chunk_tokens_;
  std::vector<std::optional<std::pair<double, double>>> cache_[2];
};

// A fingerprint of a checkpoint folder without reading its weights: config.json's bytes and
// every *.safetensors file's name, size and modification time.
std::string checkpoint_fingerprint(const std::string& dir);

}  // namespace zili::dpo
