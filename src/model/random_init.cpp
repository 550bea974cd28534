// Seeded random initialisation, one tensor after another in checkpoint order.
#include "model/random_init.h"

#include <ATen/CPUGeneratorImpl.h>

namespace zili::model {

std::vector<std::pair<std::string, torch::Tensor>> random_weights(const ModelConfig& config,
                                                                  uint64_t seed,
                                                                  c10::ScalarType dtype) {
  constexpr double kInitializerRange = 0.02;  // transformers' initializer_range default
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<std::pair<std::string, torch::Tensor>> weights;
  for (const auto& [name, shape] : parameter_shapes(config)) {
    torch::Tensor value;
    if (name.ends_with("norm.weight")) {
      // Gemma's norms scale by (1 + w): w = 0 is the identity, as transformers initialises.
      value = config.norm_weight_offset != 0.0 ? torch::zeros(shape) : torch::ones(shape);
    } else if (name.ends_with(".bias")) {
      value = torch::zeros(shape);
    } else {
      value = torch::normal(0.0, kInitializerRange, shape, generator);
    }
    weights.emplace_back(name, value.to(dtype));
  }
  return weights;
}

}  // namespace zili::model
