// LoRA or full-parameter training: parameters, groups, and saving.
#include "train/trainable.h"

#include <filesystem>

#include "io/checkpoint_tensors.h"
#include "model/config.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace zili::train {

// transformers' default max_shard_size, "5GB".
constexpr uint64_t kMaxShardBytes = 5'000'000'000;

Trainable Trainable::lora(model::LlamaForCausalLMImpl& model, const io::AdapterConfig& config,
                          uint64_t seed, const std::string& from_dir) {
  Trainable t;
  t.model_ = &model;
  t.lora_ = from_dir.empty() ? lora::LoraModel::create(model, config, seed)
                             : lora::LoraModel::load(model, from_dir);
  // A and B both decay, as PEFT + transformers' Trainer do (no bias or norm among them).
  t.decayed = t.lora_->parameters();
  return t;
}

Trainable Trainable::full(model::LlamaForCausalLMImpl& model) {
  Trainable t;
  t.model_ = &model;
  torch::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    torch::Tensor& p = item.value();
    p.set_data(p.to(torch::kFloat32));
    p.set_requires_grad(true);
    // transformers' Trainer leaves biases and LayerNorm/RMSNorm weights out of weight decay.
    const bool no_decay = item.key().find("norm") != std::string::npos ||
                          item.key().find("bias") != std::string::npos;
    (no_decay ? t.not_decayed : t.decayed).push_back(p);
  }
  return t;
}

std::vector<torch::Tensor> Trainable::all() const {
  std::vector<torch::Tensor> params = decayed;
  params.insert(params.end(), not_decayed.begin(), not_decayed.end());
  return params;
}

void Trainable::set_training(bool training) {
  if (lora_) lora_->set_training(training);
}

static std::vector<std::pair<std::string, torch::Tensor>> weights_as(
    model::LlamaForCausalLMImpl& model, c10::ScalarType dtype) {
  std::vector<std::pair<std::string, torch::Tensor>> weights;
  for (const auto& item : model.named_parameters())
    weights.emplace_back(item.key(), item.value().detach().to(dtype));
  return weights;
}

void Trainable::save_checkpoint_weights(const std::string& dir) const {
  if (lora_) return lora_->save(dir);
  model::ModelConfig config = model_->config();
  config.dtype = torch::kFloat32;
  io::save_checkpoint_tensors(dir, weights_as(*model_, torch::kFloat32), kMaxShardBytes,
                              {{"format", "pt"}});
  model::save_config(config, dir);
}

void Trainable::save_final(const std::string& dir, const std::string& base_dir,
                           c10::ScalarType storage) const {
  if (lora_) return lora_->save(dir);
  model::ModelConfig config = model_->config();
  config.dtype = storage;
  io::save_checkpoint_tensors(dir, weights_as(*model_, storage), kMaxShardBytes,
                              {{"format", "pt"}});
  model::save_config(config, dir);
  // The tokenizer (and generation settings) of the base, so the folder stands alone.
  for (const char* name : {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                           "generation_config.json"}) {
    const fs::path from = fs::path(base_dir) / name;
    std::error_code error;
    if (fs::exists(from))
      fs::copy_file(from, fs::path(dir) / name, fs::copy_options::overwrite_existing, error);
    if (error) fail("{}: cannot copy into {}: {}", from.string(), dir, error.message());
  }
}

}  // namespace zili::train
