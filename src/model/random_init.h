// Random weights for `zili init`, initialised as transformers does for Llama: every linear
// and the embedding ~ N(0, 0.02^2), RMSNorm weights 1 (0 for Gemma's 1 + w), biases 0.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "model/config.h"

namespace zili::model {

std::vector<std::pair<std::string, torch::Tensor>> random_weights(const ModelConfig& config,
                                                                  uint64_t seed,
                                                                  c10::ScalarType dtype);

}  // namespace zili::model
