// Per-row sums of the log-probabilities of a batch's loss tokens (completion / assistant
// tokens), through the chunked path: what the SFT loss and every preference loss are made of.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "data/batching.h"
#include "model/llama.h"

namespace zili::train {

struct SequenceLogps {
  // [R] (R = batch rows): sum over row r's loss positions of log p(label | tokens before),
  // fp32 (f64 for a float64 model), with autograd through the model.
  torch::Tensor logps;
  // [R] detached: sum over the same positions of the mean logit over the vocabulary,
  // h . mean_v(W_v) (TRL's logits/chosen and logits/rejected, divided by the token count),
  // found without making the logits.
  torch::Tensor logit_sums;
};

// chunk_tokens <= 0: the unchunked reference path ([N, V] logits at once).
SequenceLogps sequence_logps(model::LlamaForCausalLMImpl& model, const data::Batch& batch,
                             int64_t chunk_tokens);

}  // namespace zili::train
