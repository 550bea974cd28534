// Per-token log-probabilities of sequences under the model: the numbers `zili eval`
// prints and the building block of every training loss.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "model/llama.h"

namespace zili::model {

// ids [B, T] (right-padded; moved to the model's device), lengths[b] = real tokens of row b.
// Returns [B, T-1] float32 (float64 for a float64 model) on the model's device: entry t is
// log p(ids[t+1] | ids[..t]); entries past a row's length are 0. Logits are made
// `chunk_tokens` positions at a time, in at least fp32, so the [B, T, V] tensor never exists
// whole.
torch::Tensor token_logprobs(LlamaForCausalLMImpl& model, const torch::Tensor& ids,
                             const std::vector<int64_t>& lengths, int64_t chunk_tokens = 256);

// log p(targets[n] | hidden[n]) = (hidden W^T)[n, targets[n]] - logsumexp_v (hidden W^T)[n, v]
// for hidden [N, C] (final, normed hidden states), weight [V, C] (lm_head), targets [N]
// int64 -> [N] fp32 (f64 for f64 hidden). Differentiable in hidden and, when it requires grad,
// in weight; the custom backward remakes each chunk's logits, so neither the [N, V] logits
// nor their gradient ever exist whole. chunk_tokens <= 0: the plain-ops reference path.
// On CUDA with the kernels (fp32 math, not --no-fused) each chunk's softmax steps are fused
// (kernels/target_logprobs.h); that path checks targets in [0, V) first, one device sync.
// softcap > 0 (Gemma 2's final_logit_softcapping): the logits are cap tanh(logits / cap), in
// the forward and the backward (plain ops then, on every device).
torch::Tensor target_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                              const torch::Tensor& targets, int64_t chunk_tokens = 256,
                              double softcap = 0.0);

}  // namespace zili::model
