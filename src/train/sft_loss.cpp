// The SFT loss: the model's final hidden states at the positions the loss covers, and the
// summed negative log-likelihood of their labels through model::target_logprobs.
#include "train/sft_loss.h"

#include "model/logprobs.h"

namespace zili::train {

torch::Tensor sft_nll_sum(model::LlamaForCausalLMImpl& model, const data::Batch& batch,
                          int64_t chunk_tokens) {
  const torch::Tensor& ids = batch.input_ids;  // [B, T]
  TORCH_CHECK(ids.dim() == 2, "sft_nll_sum: input_ids must be [B, T], got ", ids.sizes());
  const auto check_like_ids = [&](const char* name, const torch::Tensor& t) {
    TORCH_CHECK(!t.defined() || t.sizes() == ids.sizes(), "sft_nll_sum: ", name, " expected ",
                ids.sizes(), " like input_ids, got ", t.sizes());
  };
  check_like_ids("labels", batch.labels);
  check_like_ids("loss_mask", batch.loss_mask);
  check_like_ids("position_ids", batch.position_ids);
  check_like_ids("segment_ids", batch.segment_ids);
  TORCH_CHECK(batch.labels.defined() && batch.loss_mask.defined(),
              "sft_nll_sum: the batch has no labels or loss_mask");

  const torch::Device device = model.lm_head_weight().device();
  const auto on_device = [&](const torch::Tensor& t) { return t.defined() ? t.to(device) : t; };
  model::ForwardOptions options;
  // Right padding needs no attention mask (a real token only sees earlier, real ones), and
  // packed rows are kept apart by their segments (padding is segment -1): the plain causal
  // path stays available where nothing else (Mistral's window) needs a mask.
  options.position_ids = on_device(batch.position_ids);
  options.segment_ids = on_device(batch.segment_ids);
  torch::Tensor hidden = model.forward(on_device(ids), options);  // [B, T, C]

  // Shifted labels: position t predicts labels[b, t]; keep the N positions the loss covers,
  // so only they ever get logits.
  const torch::Tensor where = on_device(batch.loss_mask).to(torch::kBool).reshape(-1).nonzero();
  const torch::Tensor positions = where.squeeze(1);  // [N]
  const torch::Tensor selected = hidden.reshape({-1, hidden.size(-1)}).index_select(0, positions);
  const torch::Tensor targets = on_device(batch.labels).reshape(-1).index_select(0, positions);
  return -model::target_logprobs(selected, model.lm_head_weight(), targets, chunk_tokens).sum();
}

}  // namespace zili::train
