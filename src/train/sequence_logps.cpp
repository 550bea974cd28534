// Sequence log-probs: the model's final hidden states at the loss positions, their labels'
// log-probs by model::target_logprobs, summed per row.
#include "train/sequence_logps.h"

#include <algorithm>

#include "model/logprobs.h"

namespace zili::train {

SequenceLogps sequence_logps(model::LlamaForCausalLMImpl& model, const data::Batch& batch,
                             int64_t chunk_tokens) {
  const torch::Tensor& ids = batch.input_ids;  // [R, T]
  TORCH_CHECK(ids.dim() == 2, "sequence_logps: input_ids must be [R, T], got ", ids.sizes());
  const auto check_like_ids = [&](const char* name, const torch::Tensor& t) {
    TORCH_CHECK(!t.defined() || t.sizes() == ids.sizes(), "sequence_logps: ", name, " expected ",
                ids.sizes(), " like input_ids, got ", t.sizes());
  };
  check_like_ids("labels", batch.labels);
  check_like_ids("loss_mask", batch.loss_mask);
  check_like_ids("position_ids", batch.position_ids);
  check_like_ids("segment_ids", batch.segment_ids);
  TORCH_CHECK(batch.labels.defined() && batch.loss_mask.defined(),
              "sequence_logps: the batch has no labels or loss_mask");

  const torch::Device device = model.lm_head_weight().device();
  const auto on_device = [&](const torch::Tensor& t) { return t.defined() ? t.to(device) : t; };
  model::ForwardOptions options;
  // Right padding needs no attention mask (a real token only sees earlier, real ones), and
  // packed rows are kept apart by their segments (padding is segment -1): the plain causal
  // path stays available where nothing else (Mistral's window) needs a mask.
  options.position_ids = on_device(batch.position_ids);
  options.segment_ids = on_device(batch.segment_ids);
  torch::Tensor hidden = model.forward(on_device(ids), options);  // [R, T, C]

  // Shifted labels: position t predicts labels[r, t]; keep the N positions the loss covers,
  // so only they ever get logits.
  const int64_t R = ids.size(0), T = ids.size(1);
  const torch::Tensor positions =
      on_device(batch.loss_mask).to(torch::kBool).reshape(-1).nonzero().squeeze(1);  // [N]
  const torch::Tensor selected =
      hidden.reshape({-1, hidden.size(-1)}).index_select(0, positions);  // [N, C]
  const torch::Tensor targets = on_device(batch.labels).reshape(-1).index_select(0, positions);
  const torch::Tensor weight = model.lm_head_weight();
  const torch::Tensor token_logps =
      model::target_logprobs(selected, weight, targets, chunk_tokens,
                             model.config().final_logit_softcapping.value_or(0.0));  // [N]
  const torch::Tensor rows = torch::div(positions, T, "floor");  // [N] row of each
  SequenceLogps out;
  out.logps = torch::zeros({R}, token_logps.options()).index_add(0, rows, token_logps);
  {
    torch::NoGradGuard no_grad;
    // mean_v (h W^T)_v = h . mean_v W_v: [N, C] x [C] -> [N]
    // (no fp32 copy of the whole [V, C] weight: the mean accumulates in the output dtype)
    const torch::Tensor mean_row = weight.mean(0, /*keepdim=*/false, token_logps.scalar_type());
    const torch::Tensor h = selected.detach().to(token_logps.scalar_type());  // [N, C]
    torch::Tensor logit_means;                                                // [N]
    if (const auto cap = model.config().final_logit_softcapping) {
      // Gemma 2: the mean of the capped logits is not linear in h; made a chunk of rows at a
      // time, [256, V] at most.
      logit_means = torch::empty({h.size(0)}, h.options());
      for (int64_t start = 0; start < h.size(0); start += 256) {
        const int64_t n = std::min<int64_t>(256, h.size(0) - start);
        const torch::Tensor z = h.narrow(0, start, n).matmul(weight.to(h.scalar_type()).t());
        logit_means.narrow(0, start, n).copy_((torch::tanh(z / *cap) * *cap).mean(1));
      }
    } else {
      logit_means = h.matmul(mean_row);
    }
    out.logit_sums = torch::zeros({R}, token_logps.options()).index_add(0, rows, logit_means);
  }
  return out;
}

}  // namespace zili::train
