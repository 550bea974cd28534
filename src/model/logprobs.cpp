// Token log-probs, chunked over positions.
#include "model/logprobs.h"

namespace zili::model {

torch::Tensor token_logprobs(LlamaForCausalLMImpl& model, const torch::Tensor& ids_anywhere,
                             const std::vector<int64_t>& lengths, int64_t chunk_tokens) {
  const torch::Tensor ids = ids_anywhere.to(model.lm_head_weight().device());
  const int64_t B = ids.size(0), T = ids.size(1);
  TORCH_CHECK(static_cast<int64_t>(lengths.size()) == B, "lengths has ", lengths.size(),
              " entries for ", B, " rows");
  // Right padding needs no attention mask: real tokens only attend to earlier positions,
  // which are all real.
  torch::Tensor hidden = model.forward(ids);        // [B, T, C]
  torch::Tensor targets = ids.narrow(1, 1, T - 1);  // [B, T-1]
  std::vector<torch::Tensor> pieces;
  for (int64_t start = 0; start < T - 1; start += chunk_tokens) {
    const int64_t n = std::min(chunk_tokens, T - 1 - start);
    // log p(target) = logit[target] - logsumexp(logits): [B, n, V] -> [B, n]
    // In at least fp32, as the training losses (target_logprobs): bf16 logits on a GPU would
    // round log-probs by up to ~0.06. A no-op on the CPU, whose hidden states are fp32.
    const torch::Tensor h = hidden.narrow(1, start, n);
    torch::Tensor logits =
        model.logits(h.to(torch::promote_types(h.scalar_type(), torch::kFloat32)));
    torch::Tensor target = targets.narrow(1, start, n).unsqueeze(-1);
    pieces.push_back(logits.gather(-1, target).squeeze(-1) - logits.logsumexp(-1));
  }
  torch::Tensor out =
      T > 1 ? torch::cat(pieces, 1) : torch::zeros({B, 0}, hidden.options().dtype(torch::kFloat32));
  // Zero the positions whose target is padding: target t+1 must be < length.
  torch::Tensor position = torch::arange(1, T, ids.options());                // [T-1]
  torch::Tensor length = torch::tensor(lengths, ids.options()).unsqueeze(1);  // [B, 1]
  return out.masked_fill(position.unsqueeze(0) >= length, 0.0);
}

}  // namespace zili::model
