// Loading a Hugging Face checkpoint folder into the model: config.json, then every tensor
// by name from the (sharded) safetensors, zero-copy when the storage dtype is kept.
#pragma once

#include <optional>
#include <string>

#include <torch/torch.h>

#include "model/config.h"
#include "model/llama.h"

namespace zili::model {

struct LoadOptions {
  // Weights' dtype in memory; std::nullopt keeps each tensor's dtype in the checkpoint.
  std::optional<c10::ScalarType> dtype;
  torch::Device device = torch::kCPU;
};

// Missing and unexpected tensors are one error listing them; a shape that contradicts
// config.json names the tensor and both shapes.
LlamaForCausalLM load_model(const std::string& dir, const LoadOptions& options = {});
// The same with config.json already read.
LlamaForCausalLM load_model(const std::string& dir, const ModelConfig& config,
                            const LoadOptions& options = {});

// Gives the model's parameters their data from `tensors` (name -> tensor), with the same
// checks as load_model; `where` names the source in errors.
void assign_parameters(
    LlamaForCausalLMImpl& model,
    const std::function<std::optional<torch::Tensor>(const std::string&)>& tensor_by_name,
    const std::vector<std::string>& available_names, const std::string& where,
    const LoadOptions& options);

// The first frozen weight (a parameter that does not require grad, or a buffer) that holds a
// NaN or an infinity, by name; std::nullopt when all are finite. A pass over every weight:
// called where an output came out non-finite, to tell a corrupt checkpoint from a diverged run.
std::optional<std::string> first_nonfinite_frozen_weight(const torch::nn::Module& model);
// zili::Error "WHERE: tensor NAME holds NaN or infinite values ..." when there is one.
void check_frozen_weights_finite(const torch::nn::Module& model, const std::string& where);

}  // namespace zili::model
