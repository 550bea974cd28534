// Self-attention of the decoder and its boolean mask: projections (separate or Phi-3's fused
// qkv_proj), optional per-head q/k RMSNorm (Qwen3, Gemma 3), RoPE, the KV cache, GQA, and
// softmax attention scaled by D^-1/2 (Gemma: query_pre_attn_scalar^-1/2), with Gemma 2's
// soft-capped scores and a sliding window on the layers that have one.
#include <cmath>
#include <limits>

#include "model/llama.h"

namespace zili::model {

AttentionImpl::AttentionImpl(const ModelConfig& c, int64_t layer_index)
    : heads_(c.num_attention_heads),
      kv_heads_(c.num_key_value_heads),
      head_dim_(c.head_dim),
      layer_index_(layer_index),
      sliding_(c.layer_is_sliding(layer_index)),
      scale_(1.0 / std::sqrt(c.query_pre_attn_scalar ? *c.query_pre_attn_scalar
                                                     : static_cast<double>(c.head_dim))),
      logit_softcap_(c.attn_logit_softcapping) {
  const int64_t q_out = heads_ * head_dim_, kv_out = kv_heads_ * head_dim_;
  // Registered in transformers' order, so named_parameters() lists them as a checkpoint does.
  if (c.fused_projections) {
    o_proj = register_module("o_proj", Linear(q_out, c.hidden_size, false));
    qkv_proj = register_module("qkv_proj", Linear(c.hidden_size, q_out + 2 * kv_out, false));
  } else {
    q_proj = register_module("q_proj", Linear(c.hidden_size, q_out, c.attention_bias));
    k_proj = register_module("k_proj", Linear(c.hidden_size, kv_out, c.attention_bias));
    v_proj = register_module("v_proj", Linear(c.hidden_size, kv_out, c.attention_bias));
    o_proj = register_module("o_proj", Linear(q_out, c.hidden_size, c.o_proj_bias));
  }
  if (c.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(head_dim_, c.rms_norm_eps, c.norm_weight_offset));
    k_norm = register_module("k_norm", RMSNorm(head_dim_, c.rms_norm_eps, c.norm_weight_offset));
  }
}

std::vector<torch::Tensor> AttentionImpl::project_qkv(const torch::Tensor& x) {
  if (!qkv_proj) return shared_input_forward({q_proj.get(), k_proj.get(), v_proj.get()}, x);
  // Phi-3: [B, T, H*D + 2 Hkv*D] split as q, k, v in that order.
  const int64_t q_out = heads_ * head_dim_, kv_out = kv_heads_ * head_dim_;
  return qkv_proj(x).split_with_sizes({q_out, kv_out, kv_out}, -1);
}

// Scores capped as Gemma 2 does, which SDPA cannot: s = cap tanh(scale q k^T / cap), masked,
// softmax in fp32 (as transformers' eager attention), times v. q [B, H, T, D], k/v
// [B, H, S, D], mask [B|1, 1, T, S] bool or undefined (plain causal when T == S > 1).
static torch::Tensor capped_attention(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v, torch::Tensor mask, double scale,
                                      double cap) {
  const int64_t T = q.size(2), S = k.size(2);
  torch::Tensor scores = torch::matmul(q, k.transpose(2, 3)) * scale;  // [B, H, T, S]
  scores = torch::tanh(scores / cap) * cap;
  if (!mask.defined() && T > 1)
    mask = torch::ones({T, S}, q.options().dtype(torch::kBool)).tril(S - T);
  if (mask.defined())
    scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
  torch::Tensor probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  return torch::matmul(probs, v);  // [B, H, T, D]
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const AttentionInputs& in) {
  const int64_t B = x.size(0), T = x.size(1);
  // q [B, H, T, D], k/v [B, Hkv, T, D]
  const std::vector<torch::Tensor> qkv = project_qkv(x);
  torch::Tensor q = qkv[0].view({B, T, heads_, head_dim_});
  torch::Tensor k = qkv[1].view({B, T, kv_heads_, head_dim_});
  torch::Tensor v = qkv[2].view({B, T, kv_heads_, head_dim_}).transpose(1, 2);
  if (q_norm) q = q_norm(q), k = k_norm(k);  // per head, over D, before RoPE
  q = q.transpose(1, 2), k = k.transpose(1, 2);
  const torch::Tensor& cos = sliding_ && in.cos_sliding.defined() ? in.cos_sliding : in.cos;
  const torch::Tensor& sin = sliding_ && in.sin_sliding.defined() ? in.sin_sliding : in.sin;
  q = rope(q, cos, sin);  // the fused kernel on CUDA when built, else apply_rope
  k = rope(k, cos, sin);
  if (in.cache) std::tie(k, v) = in.cache->append(layer_index_, k, v);  // [B, Hkv, S, D]
  // GQA: query head h reads key/value head h / (H / Hkv), as transformers' repeat_kv.
  const int64_t groups = heads_ / kv_heads_;
  if (groups > 1) {
    k = k.repeat_interleave(groups, 1);
    v = v.repeat_interleave(groups, 1);
  }
  const torch::Tensor& mask = sliding_ ? in.mask_sliding : in.mask;
  torch::Tensor out;
  if (logit_softcap_) {
    out = capped_attention(q, k, v, mask, scale_, *logit_softcap_);
  } else {
    // softmax(scale q k^T + mask) v: [B, H, T, S] x [B, H, S, D] -> [B, H, T, D]. Without a
    // mask, build_attention_mask guarantees T == S (or T == 1): plain causal.
    const bool causal = !mask.defined() && T > 1;
    out = at::scaled_dot_product_attention(
        q, k, v, mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt, 0.0, causal,
        scale_);
  }
  out = out.transpose(1, 2).reshape({B, T, heads_ * head_dim_});
  return o_proj(out);
}

torch::Tensor build_attention_mask(const torch::Tensor& attention_mask, int64_t past, int64_t T,
                                   std::optional<int64_t> sliding_window, torch::Device device,
                                   const torch::Tensor& segment_ids) {
  const int64_t S = past + T;
  const bool window_in_reach = sliding_window && S > *sliding_window;
  if (!attention_mask.defined() && !segment_ids.defined() && !window_in_reach &&
      (past == 0 || T == 1))
    return {};
  // query positions [T, 1] and key positions [1, S], absolute (cache included).
  torch::Tensor q_pos =
      torch::arange(past, S, torch::TensorOptions(torch::kInt64).device(device)).unsqueeze(1);
  torch::Tensor k_pos =
      torch::arange(0, S, torch::TensorOptions(torch::kInt64).device(device)).unsqueeze(0);
  torch::Tensor allowed = k_pos <= q_pos;  // [T, S]
  if (window_in_reach) allowed = allowed.logical_and(q_pos - k_pos < *sliding_window);
  allowed = allowed.unsqueeze(0).unsqueeze(0);  // [1, 1, T, S]
  if (attention_mask.defined()) {
    TORCH_CHECK(attention_mask.dim() == 2 && attention_mask.size(1) == S,
                "attention_mask must be [B, ", S, "], got ", attention_mask.sizes());
    torch::Tensor keys_valid = attention_mask.to(device).to(torch::kBool).unsqueeze(1).unsqueeze(1);
    allowed = allowed.logical_and(keys_valid);  // [B, 1, T, S]
  }
  if (segment_ids.defined()) {
    TORCH_CHECK(past == 0, "segment_ids (packed rows) expected no cache, got ", past,
                " cached positions");
    TORCH_CHECK(segment_ids.dim() == 2 && segment_ids.size(1) == T, "segment_ids must be [B, ", T,
                "], got ", segment_ids.sizes());
    // same[b, q, s] = segment of query q == segment of key s: [B, 1, T, T]
    torch::Tensor segments = segment_ids.to(device);
    torch::Tensor same = (segments.unsqueeze(2) == segments.unsqueeze(1)).unsqueeze(1);
    allowed = allowed.logical_and(same);
  }
  // A query always sees itself: no all-masked row, so no NaN from the softmax.
  allowed = allowed.logical_or((k_pos == q_pos).unsqueeze(0).unsqueeze(0));
  return allowed;
}

}  // namespace zili::model
