// The SFT loss of a batch: negative log-likelihood of its target tokens (completion or
// assistant tokens), computed by the chunked path so the [tokens, V] logits never exist whole.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "data/batching.h"
#include "model/llama.h"

namespace zili::train {

// Sum over target tokens of -log p(token | the ones before it in its example): a scalar
// (fp32, f64 for a float64 model) with autograd through the model. The caller divides by the
// target count of the whole optimizer step, so grad-accum of k batches equals one batch k
// times as big. chunk_tokens <= 0: the unchunked reference path ([N, V] logits at once).
torch::Tensor sft_nll_sum(model::LlamaForCausalLMImpl& model, const data::Batch& batch,
                          int64_t chunk_tokens);

}  // namespace zili::train
