// Test models shared by the unit tests (not a test file itself): random weights scaled up so
// that predictions are far from uniform, as a trained model's are.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/llama.h"
#include "model/load.h"
#include "model/random_init.h"

namespace zili::test {

// Weights and compute in `dtype` (float64 where gradients are compared to rounding); every
// weight but the norms multiplied by 15.
inline model::LlamaForCausalLM random_model(const model::ModelConfig& c, uint64_t seed,
                                            c10::ScalarType dtype = torch::kFloat32) {
  auto weights = model::random_weights(c, seed, dtype);
  std::map<std::string, torch::Tensor> by_name;
  std::vector<std::string> names;
  for (auto& [name, t] : weights) {
    by_name[name] = name.ends_with("norm.weight") ? t : t * 15;
    names.push_back(name);
  }
  model::LlamaForCausalLM net(c);
  model::assign_parameters(
      *net, [&](const std::string& n) -> std::optional<torch::Tensor> { return by_name.at(n); },
      names, "test", {});
  net->model->compute_dtype = dtype;
  return net;
}

}  // namespace zili::test
