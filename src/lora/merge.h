// Merging a PEFT LoRA adapter into its base checkpoint: W' = W + s B A on every targeted
// linear layer, written as a standalone Hugging Face checkpoint folder. Streams one tensor at
// a time from the mapped base to the output, so memory stays near the largest tensor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace zili::lora {

struct MergeOptions {
  std::optional<c10::ScalarType> dtype;      // output dtype; nullopt: the base's config dtype
  uint64_t max_shard_bytes = 5'000'000'000;  // largest safetensors file, as transformers'
  bool overwrite = false;                    // replace a non-empty out_dir (--force)
};

struct MergeSummary {
  c10::ScalarType dtype = torch::kFloat32;  // of the floating-point weights written
  int64_t merged_weights = 0;               // linear weights that received s B A
  int64_t tensors = 0;                      // tensors written in all
  uint64_t bytes = 0;                       // their bytes
  std::vector<std::string> weight_files;    // model.safetensors, or the shards and the index
  std::vector<std::string> other_files;     // config.json and the tokenizer files copied
};

// Writes base + adapter into out_dir as a checkpoint (config.json with the output dtype,
// model.safetensors or shards + model.safetensors.index.json, the tokenizer files). Every
// adapter tensor is checked against the base's headers before anything is written: a missing
// or extra tensor, a wrong shape or a target the base lacks is one zili::Error naming the
// tensor (and both shapes). out_dir appears only when complete (StagingDir).
MergeSummary merge_adapter(const std::string& base_dir, const std::string& adapter_dir,
                           const std::string& out_dir, const MergeOptions& options);

}  // namespace zili::lora
