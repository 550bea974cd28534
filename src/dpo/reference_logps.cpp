// Reference log-probs: computed pair by pair with the adapters off (or frozen), kept.
#include "dpo/reference_logps.h"

#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "data/pair_batching.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"
#include "train/run_folder.h"
#include "train/sequence_logps.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace zili::dpo {

ReferenceLogps::ReferenceLogps(model::LlamaForCausalLMImpl& model, lora::LoraModel* lora,
                               const std::string& frozen_adapter_dir, int64_t pad_id,
                               int64_t chunk_tokens)
    : model_(model), lora_(lora), pad_id_(pad_id), chunk_tokens_(chunk_tokens) {
  if (lora == nullptr || frozen_adapter_dir.empty()) return;
  // The adapter's own A and B, read again from its files: the policy's copies train (and on
  // a resume they hold a checkpoint's values, not the starting ones).
  const io::AdapterFiles files = io::read_adapter(frozen_adapter_dir);
  for (const auto& entry : lora->entries()) {
    auto tensor = [&](char which) {
      const std::string key = io::peft_key(entry.module, which);
      if (!files.weights->find(key))
        fail("{}: no tensor {} (the adapter the run started from changed?)", frozen_adapter_dir,
             key);
      // fp32 on the policy adapter's device, where compute() swaps it in.
      const auto options =
          torch::TensorOptions().dtype(torch::kFloat32).device(entry.adapter->lora_a.device());
      return files.weights->tensor(key).to(options, /*non_blocking=*/false, /*copy=*/true);
    };
    frozen_.emplace_back(tensor('A'), tensor('B'));
  }
}

std::pair<double, double> ReferenceLogps::compute(const data::TokenizedPair& pair) {
  torch::NoGradGuard no_grad;
  data::Batch batch = data::make_pair_batch({pair}, {0}, pad_id_);  // [2, T]: chosen, rejected
  torch::Tensor logps;
  if (lora_ == nullptr) {
    logps = train::sequence_logps(model_, batch, chunk_tokens_).logps;
  } else if (frozen_.empty()) {
    lora::AdaptersDisabled off(*lora_);
    logps = train::sequence_logps(model_, batch, chunk_tokens_).logps;
  } else {
    // The adapters hold the frozen --init-adapter weights for this forward, dropout off.
    auto& entries = lora_->entries();
    auto swap_in = [&] {
      for (size_t i = 0; i < entries.size(); ++i) {
        std::swap(entries[i].adapter->lora_a, frozen_[i].first);
        std::swap(entries[i].adapter->lora_b, frozen_[i].second);
      }
    };
    const bool was_training = !entries.empty() && entries[0].adapter->training;
    lora_->set_training(false);
    swap_in();
    try {
      logps = train::sequence_logps(model_, batch, chunk_tokens_).logps;
    } catch (...) {
      swap_in();
      lora_->set_training(was_training);
      throw;
    }
    swap_in();
    lora_->set_training(was_training);
  }
  logps = logps.to(torch::kFloat64);
  return {logps[0].item<double>(), logps[1].item<double>()};
}

std::pair<double, double> ReferenceLogps::get(int set,
                                              const std::vector<data::TokenizedPair>& pairs,
                                              size_t index) {
  auto& cache = cache_[set];
  if (cache.size() != pairs.size()) cache.resize(pairs.size());
  if (!cache[index]) {
    TORCH_CHECK(lora_ != nullptr,
                "ReferenceLogps: full training needs every reference "
                "log-prob computed before the first update");
    cache[index] = compute(pairs[index]);
  }
  return *cache[index];
}

void ReferenceLogps::precompute_all(int set, const std::vector<data::TokenizedPair>& pairs) {
  auto& cache = cache_[set];
  cache.resize(pairs.size());
  size_t next_report = pairs.size() / 10;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (!cache[i]) cache[i] = compute(pairs[i]);
    if (i + 1 == next_report) {
      spdlog::info("reference log-probs: {} of {} pairs", i + 1, pairs.size());
      next_report += pairs.size() / 10;
    }
  }
}

bool ReferenceLogps::complete(int set, size_t pairs) const {
  if (cache_[set].size() != pairs) return pairs == 0;
  for (const auto& entry : cache_[set])
    if (!entry) return false;
  return true;
}

void ReferenceLogps::save(const std::string& path, const std::string& key) const {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (int set = 0; set < 2; ++set) {
    torch::Tensor values = torch::zeros({static_cast<int64_t>(cache_[set].size()), 2},
                                        torch::kFloat64);  // [pairs, 2] chosen, rejected
    for (size_t i = 0; i < cache_[set].size(); ++i) {
      TORCH_CHECK(cache_[set][i].has_value(), "ReferenceLogps::save: pair ", i, " not computed");
      values[i][0] = cache_[set][i]->first;
      values[i][1] = cache_[set][i]->second;
    }
    tensors.emplace_back(set == 0 ? "train" : "eval", values);
  }
  io::save_safetensors(path, tensors, {{"key", key}});
}

std::string ReferenceLogps::key_of(const std::string& path) {
  auto file = io::SafetensorsFile::open(path);
  auto found = file->metadata().find("key");
  return found == file->metadata().end() ? "" : found->second;
}

bool ReferenceLogps::load(const std::string& path, const std::string& key, size_t train_pairs,
                          size_t eval_pairs) {
  if (!fs::exists(path)) return false;
  auto file = io::SafetensorsFile::open(path);
  auto found = file->metadata().find("key");
  if (found == file->metadata().end() || found->second != key) return false;
  const size_t sizes[2] = {train_pairs, eval_pairs};
  for (int set = 0; set < 2; ++set) {
    const char* name = set == 0 ? "train" : "eval";
    if (!file->find(name)) return false;
    torch::Tensor values = file->tensor(name).to(torch::kFloat64);
    if (values.dim() != 2 || values.size(0) != static_cast<int64_t>(sizes[set]) ||
        values.size(1) != 2)
      return false;
    cache_[set].assign(sizes[set], std::nullopt);
    auto rows = values.accessor<double, 2>();
    for (size_t i = 0; i < sizes[set]; ++i) cache_[set][i] = {{rows[i][0], rows[i][1]}};
  }
  return true;
}

std::string checkpoint_fingerprint(const std::string& dir) {
  std::string text = read_file((fs::path(dir) / "config.json").string());
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  for (const std::string& file : files)
    text += fmt::format("\n{} {} {}", fs::path(file).filename().string(), fs::file_size(file),
                        fs::last_write_time(file).time_since_epoch().count());
  return train::fingerprint_text(text);
}

}  // namespace zili::dpo
