// The SFT loss: the summed negative log-likelihood of the batch's loss tokens.
#include "train/sft_loss.h"

#include "train/sequence_logps.h"

namespace zili::train {

torch::Tensor sft_nll_sum(model::LlamaForCausalLMImpl& model, const data::Batch& batch,
                          int64_t chunk_tokens) {
  return -sequence_logps(model, batch, chunk_tokens).logps.sum();
}

}  // namespace zili::train
