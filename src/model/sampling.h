// Choosing the next token from logits: greedy at temperature 0, otherwise softmax(logits /
// temperature) restricted to the nucleus (top-p) and sampled with a seeded generator.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace zili::model {

class Sampler {
 public:
  Sampler(double temperature, double top_p, uint64_t seed);
  // logits [V] -> token id.
  int64_t next(const torch::Tensor& logits);

 private:
  double temperature_, top_p_;
  at::Generator generator_;
};

}  // namespace zili::model
