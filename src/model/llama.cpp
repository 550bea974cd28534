// Forward pass of the Llama-family decoder, top to bottom: embed, N x (attention + MLP),
// final norm, lm_head. Mirrors transformers' modeling_llama / modeling_mistral.
#include "model/llama.h"

#include <cmath>

#include "model/rms_norm.h"
#include "model/swiglu.h"

namespace zili::model {

// Parameters start as empty placeholders (nothing allocated); load_model() or the caller
// gives them their data with set_data(). Base weights never require grad.
static torch::Tensor placeholder() {
  return torch::empty({0});
}

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias)
    : in_features(in), out_features(out) {
  weight = register_parameter("weight", placeholder(), /*requires_grad=*/false);
  if (with_bias) bias = register_parameter("bias", placeholder(), /*requires_grad=*/false);
}

torch::Tensor LinearImpl::base_forward(const torch::Tensor& x) const {
  const auto dtype = x.scalar_type();
  return torch::nn::functional::linear(x, weight.to(dtype),
                                       bias.defined() ? bias.to(dtype) : torch::Tensor());
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  return adapter ? adapter->forward(*this, x) : base_forward(x);
}

std::vector<torch::Tensor> shared_input_forward(const std::vector<LinearImpl*>& layers,
                                                const torch::Tensor& x) {
  std::vector<torch::Tensor> outputs(layers.size());
  std::vector<const LinearImpl*> adapted;
  std::vector<size_t> adapted_at;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i]->adapter) {
      adapted.push_back(layers[i]);
      adapted_at.push_back(i);
    }
  }
  if (adapted.size() >= 2) {
    const std::vector<torch::Tensor> together = adapted[0]->adapter->forward_group(adapted, x);
    if (!together.empty()) {
      TORCH_CHECK(together.size() == adapted.size(), "forward_group: expected ", adapted.size(),
                  " outputs, got ", together.size());
      for (size_t j = 0; j < adapted.size(); ++j) outputs[adapted_at[j]] = together[j];
    }
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    if (!outputs[i].defined()) outputs[i] = layers[i]->forward(x);
  }
  return outputs;
}

EmbeddingImpl::EmbeddingImpl() {
  weight = register_parameter("weight", placeholder(), false);
}

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& ids) {
  std::vector<int64_t> shape = ids.sizes().vec();
  shape.push_back(-1);
  return weight.index_select(0, ids.reshape(-1)).view(shape);
}

RMSNormImpl::RMSNormImpl(int64_t, double eps_) : eps(eps_) {
  weight = register_parameter("weight", placeholder(), false);
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  return rms_norm(x, weight, eps);  // the fused kernel on CUDA when built, else the reference
}

AttentionImpl::AttentionImpl(const ModelConfig& c, int64_t layer_index)
    : heads_(c.num_attention_heads),
      kv_heads_(c.num_key_value_heads),
      head_dim_(c.head_dim),
      layer_index_(layer_index) {
  const int64_t q_out = heads_ * head_dim_, kv_out = kv_heads_ * head_dim_;
  q_proj = register_module("q_proj", Linear(c.hidden_size, q_out, c.attention_bias));
  k_proj = register_module("k_proj", Linear(c.hidden_size, kv_out, c.attention_bias));
  v_proj = register_module("v_proj", Linear(c.hidden_size, kv_out, c.attention_bias));
  o_proj = register_module("o_proj", Linear(q_out, c.hidden_size, c.attention_bias));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const AttentionInputs& in) {
  const int64_t B = x.size(0), T = x.size(1);
  // q [B, H, T, D], k/v [B, Hkv, T, D]
  const std::vector<torch::Tensor> qkv =
      shared_input_forward({q_proj.get(), k_proj.get(), v_proj.get()}, x);
  torch::Tensor q = qkv[0].view({B, T, heads_, head_dim_}).transpose(1, 2);
  torch::Tensor k = qkv[1].view({B, T, kv_heads_, head_dim_}).transpose(1, 2);
  torch::Tensor v = qkv[2].view({B, T, kv_heads_, head_dim_}).transpose(1, 2);
  q = rope(q, in.cos, in.sin);  // the fused kernel on CUDA when built, else apply_rope
  k = rope(k, in.cos, in.sin);
  if (in.cache) std::tie(k, v) = in.cache->append(layer_index_, k, v);  // [B, Hkv, S, D]
  // GQA: query head h reads key/value head h / (H / Hkv), as transformers' repeat_kv.
  const int64_t groups = heads_ / kv_heads_;
  if (groups > 1) {
    k = k.repeat_interleave(groups, 1);
    v = v.repeat_interleave(groups, 1);
  }
  // softmax(q k^T / sqrt(D) + mask) v: [B, H, T, S] x [B, H, S, D] -> [B, H, T, D]
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim_));
  // Without a mask, build_attention_mask guarantees T == S (or T == 1): plain causal.
  const bool causal = !in.mask.defined() && T > 1;
  torch::Tensor out = at::scaled_dot_product_attention(
      q, k, v, in.mask.defined() ? std::optional<at::Tensor>(in.mask) : std::nullopt, 0.0, causal,
      scale);
  out = out.transpose(1, 2).reshape({B, T, heads_ * head_dim_});
  return o_proj(out);
}

MLPImpl::MLPImpl(const ModelConfig& c) {
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, c.mlp_bias));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  const std::vector<torch::Tensor> gate_up =
      shared_input_forward({gate_proj.get(), up_proj.get()}, x);
  return down_proj(swiglu(gate_up[0], gate_up[1]));  // silu(gate) * up, fused on CUDA
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, int64_t layer_index) {
  self_attn = register_module("self_attn", Attention(c, layer_index));
  mlp = register_module("mlp", MLP(c));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const AttentionInputs& in) {
  torch::Tensor h = x + self_attn(input_layernorm(x), in);
  return h + mlp(post_attention_layernorm(h));
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

LlamaModelImpl::LlamaModelImpl(const ModelConfig& c) : config_(c), rope_(c) {
  embed_tokens = register_module("embed_tokens", Embedding());
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c, i));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor LlamaModelImpl::forward(const torch::Tensor& input_ids,
                                      const ForwardOptions& options) {
  TORCH_CHECK(input_ids.dim() == 2, "input_ids must be [B, T], got ", input_ids.sizes());
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  const int64_t past = options.cache ? options.cache->length() : 0;
  const auto device = input_ids.device();
  torch::Tensor positions = options.position_ids;
  if (!positions.defined())
    positions = torch::arange(past, past + T, torch::TensorOptions(torch::kInt64).device(device))
                    .unsqueeze(0)
                    .expand({B, T});
  AttentionInputs in;
  std::tie(in.cos, in.sin) = rope_.cos_sin(positions, compute_dtype);
  in.mask = build_attention_mask(options.attention_mask, past, T, config_.sliding_window, device,
                                 options.segment_ids);
  in.cache = options.cache;

  torch::Tensor x = embed_tokens(input_ids).to(compute_dtype);  // [B, T, C]
  for (const auto& item : *layers) {
    DecoderLayerImpl& layer = *item->as<DecoderLayer>();
    x = layer_runner ? layer_runner->run(layer, x, in) : layer.forward(x, in);
  }
  return norm(x);
}

LlamaForCausalLMImpl::LlamaForCausalLMImpl(ModelConfig config) : config_(std::move(config)) {
  model = register_module("model", LlamaModel(config_));
  if (!config_.tie_word_embeddings)
    lm_head = register_module("lm_head", Linear(config_.hidden_size, config_.vocab_size, false));
}

torch::Tensor LlamaForCausalLMImpl::lm_head_weight() const {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

torch::Tensor LlamaForCausalLMImpl::forward(const torch::Tensor& input_ids,
                                            const ForwardOptions& options) {
  return model(input_ids, options);
}

torch::Tensor LlamaForCausalLMImpl::logits(const torch::Tensor& hidden) {
  // An adapter on lm_head is not supported (PEFT's all-linear leaves it out too).
  torch::Tensor out =
      torch::nn::functional::linear(hidden, lm_head_weight().to(hidden.scalar_type()));
  return out.scalar_type() == torch::kFloat64 ? out : out.to(torch::kFloat32);
}

}  // namespace zili::model
