// Forward pass of the decoder, top to bottom: embed, N x (attention + MLP), final norm,
// lm_head. Mirrors transformers' modeling_{llama,mistral,qwen2,qwen3,gemma2,gemma3,phi3};
// attention is in attention.cpp.
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

RMSNormImpl::RMSNormImpl(int64_t, double eps_, double weight_offset_)
    : eps(eps_), weight_offset(weight_offset_) {
  weight = register_parameter("weight", placeholder(), false);
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  // The fused kernel on CUDA when built (offset 0 only), else the reference.
  return rms_norm(x, weight, eps, weight_offset);
}

MLPImpl::MLPImpl(const ModelConfig& c) : gelu_tanh_(c.gelu_tanh) {
  const int64_t C = c.hidden_size, F = c.intermediate_size;
  if (c.fused_projections) {
    gate_up_proj = register_module("gate_up_proj", Linear(C, 2 * F, false));
  } else {
    gate_proj = register_module("gate_proj", Linear(C, F, c.mlp_bias));
    up_proj = register_module("up_proj", Linear(C, F, c.mlp_bias));
  }
  down_proj = register_module("down_proj", Linear(F, C, c.mlp_bias));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  // gate, up [B, T, F]: Phi-3's gate_up_proj output [B, T, 2F] is [gate, up] along the last dim.
  const std::vector<torch::Tensor> gate_up =
      gate_up_proj ? gate_up_proj(x).chunk(2, -1)
                   : shared_input_forward({gate_proj.get(), up_proj.get()}, x);
  // gelu_tanh(gate) * up (Gemma's GeGLU, plain ops), or silu(gate) * up, fused on CUDA.
  return down_proj(gelu_tanh_ ? geglu_tanh(gate_up[0], gate_up[1])
                              : swiglu(gate_up[0], gate_up[1]));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, int64_t layer_index) {
  const auto norm = [&] { return RMSNorm(c.hidden_size, c.rms_norm_eps, c.norm_weight_offset); };
  self_attn = register_module("self_attn", Attention(c, layer_index));
  mlp = register_module("mlp", MLP(c));
  input_layernorm = register_module("input_layernorm", norm());
  post_attention_layernorm = register_module("post_attention_layernorm", norm());
  if (c.sandwich_norms) {
    pre_feedforward_layernorm = register_module("pre_feedforward_layernorm", norm());
    post_feedforward_layernorm = register_module("post_feedforward_layernorm", norm());
  }
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const AttentionInputs& in) {
  if (pre_feedforward_layernorm) {  // Gemma: the output of each block is normed too
    torch::Tensor h = x + post_attention_layernorm(self_attn(input_layernorm(x), in));
    return h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h)));
  }
  torch::Tensor h = x + self_attn(input_layernorm(x), in);
  return h + mlp(post_attention_layernorm(h));
}

// Gemma 3's sliding layers: RoPE with their own base and no scaling.
static ModelConfig sliding_rope_config(ModelConfig c) {
  c.rope_theta = *c.rope_local_theta;
  c.rope_scaling = RopeScaling{};
  return c;
}

LlamaModelImpl::LlamaModelImpl(const ModelConfig& c) : config_(c), rope_(c) {
  if (c.rope_local_theta) rope_sliding_.emplace(sliding_rope_config(c));
  embed_tokens = register_module("embed_tokens", Embedding());
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c, i));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, c.norm_weight_offset));
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
  if (rope_sliding_)
    std::tie(in.cos_sliding, in.sin_sliding) = rope_sliding_->cos_sin(positions, compute_dtype);
  // Full layers' mask without a window, sliding layers' with it (each only when some layer
  // needs it).
  if (config_.any_full_layer())
    in.mask = build_attention_mask(options.attention_mask, past, T, std::nullopt, device,
                                   options.segment_ids);
  if (config_.any_sliding_layer())
    in.mask_sliding = build_attention_mask(options.attention_mask, past, T, config_.sliding_window,
                                           device, options.segment_ids);
  in.cache = options.cache;

  torch::Tensor x = embed_tokens(input_ids).to(compute_dtype);  // [B, T, C]
  if (config_.scale_embeddings) {
    // Gemma: x sqrt(C), the factor rounded to the model's dtype and the product made in it,
    // as transformers' scaled embedding does (its weights are in the model's dtype).
    const double scale = std::sqrt(static_cast<double>(config_.hidden_size));
    x = x * torch::scalar_tensor(scale, x.options().dtype(torch::kFloat32)).to(compute_dtype);
  }
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
  out = out.scalar_type() == torch::kFloat64 ? out : out.to(torch::kFloat32);
  // Gemma 2: logits = cap tanh(logits / cap).
  if (const auto cap = config_.final_logit_softcapping) out = torch::tanh(out / *cap) * *cap;
  return out;
}

}  // namespace zili::model
