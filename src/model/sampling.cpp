// Greedy, temperature and nucleus sampling.
#include "model/sampling.h"

#include <ATen/CPUGeneratorImpl.h>

#include "util/error.h"

namespace zili::model {

Sampler::Sampler(double temperature, double top_p, uint64_t seed)
    : temperature_(temperature),
      top_p_(top_p),
      generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {
  if (!(temperature >= 0)) fail("--temperature must be >= 0 (got {})", temperature);
  if (!(top_p > 0 && top_p <= 1)) fail("--top-p must be in (0, 1] (got {})", top_p);
}

int64_t Sampler::next(const torch::Tensor& logits) {
  torch::Tensor scores = logits.to(torch::kCPU, torch::kFloat32).reshape(-1);
  if (temperature_ == 0) return scores.argmax().item<int64_t>();
  torch::Tensor probs = torch::softmax(scores / temperature_, 0);
  // Nucleus: keep the most likely tokens whose cumulative probability before them is below
  // top_p (so the first token is always kept), renormalise, sample.
  auto [sorted, order] = probs.sort(/*dim=*/0, /*descending=*/true);
  torch::Tensor before = sorted.cumsum(0) - sorted;
  sorted = sorted.masked_fill(before >= top_p_, 0.0);
  torch::Tensor choice = torch::multinomial(sorted / sorted.sum(), 1, false, generator_);
  return order[choice.item<int64_t>()].item<int64_t>();
}

}  // namespace zili::model
