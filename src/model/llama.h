// The decoder of every family zili runs (Llama 1/2/3, Mistral, Qwen2/3, Gemma 2/3, Phi-3) as
// libtorch modules registered under their Hugging Face names
// (model.layers.N.self_attn.q_proj.weight, ...), so loading and export are name mapping. A
// family is a few options of ModelConfig (q/k norms, norm offset, sandwich norms, GeGLU, caps,
// window pattern, fused projections), each applied where it acts.
//
// Size letters: B batch, T new tokens, S key positions (cache + new), C hidden size,
// H attention heads, Hkv key/value heads, D head dim, F intermediate size, V vocab.
//
// Weights may be stored narrower (bf16/f16) than the compute dtype; each op casts its
// weight to the activations' dtype (fp32 on the CPU).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/config.h"
#include "model/kv_cache.h"
#include "model/rope.h"

namespace zili::model {

class LinearImpl;

// What the LoRA layer plugs into a linear layer: when set, it computes the whole output
// (base and its own path) from the layer's frozen weight. src/model knows nothing more of it.
class LinearAdapter {
 public:
  virtual ~LinearAdapter() = default;
  virtual torch::Tensor forward(const LinearImpl& base, const torch::Tensor& x) = 0;
  // The outputs of `layers` (this adapter's layer first, each with an adapter), which all read
  // the same x, computed together; empty when this adapter cannot (another kind of adapter on
  // one of them, or a mode it runs only alone): the caller then runs each layer by itself.
  virtual std::vector<torch::Tensor> forward_group(const std::vector<const LinearImpl*>& layers,
                                                   const torch::Tensor& x) {
    (void)layers, (void)x;
    return {};
  }
};

// y = x W^T + b. x [..., in] -> [..., out]; weight [out, in], bias [out] (optional).
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool with_bias);
  torch::Tensor forward(const torch::Tensor& x);
  // The plain product, ignoring any adapter.
  torch::Tensor base_forward(const torch::Tensor& x) const;

  int64_t in_features, out_features;
  torch::Tensor weight;  // [out, in]
  torch::Tensor bias;    // [out] or undefined
  std::shared_ptr<LinearAdapter> adapter;
};
TORCH_MODULE(Linear);

// The outputs of linear layers that read the same x (attention's q/k/v, the MLP's gate/up), in
// order: those with adapters together through the first one's forward_group when it can run
// them (LoRA then reads x once for all of them), every other layer by itself.
std::vector<torch::Tensor> shared_input_forward(const std::vector<LinearImpl*>& layers,
                                                const torch::Tensor& x);

// y = x / sqrt(mean(x^2) + eps) * (weight_offset + weight), computed in fp32 (as transformers
// does; Gemma's offset is 1); the fused kernel on CUDA when the build has it and the offset
// is 0 (model/rms_norm.h).
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t size, double eps, double weight_offset = 0.0);
  torch::Tensor forward(const torch::Tensor& x);  // [..., C] -> [..., C]
  torch::Tensor weight;                           // [C]
  double eps, weight_offset;
};
TORCH_MODULE(RMSNorm);

// Token embeddings: ids [...] -> rows of weight [V, C].
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl();
  torch::Tensor forward(const torch::Tensor& ids);
  torch::Tensor weight;  // [V, C]
};
TORCH_MODULE(Embedding);

// Per-call attention inputs shared by every layer: one set for full-attention layers and
// one for sliding-window layers (the same tensors when nothing differs).
struct AttentionInputs {
  torch::Tensor cos, sin;  // [B, T, D] float32 (float64 for a float64 model)
  torch::Tensor mask;      // [B, 1, T, S] bool (true: may attend), or undefined: plain causal
  torch::Tensor cos_sliding, sin_sliding;  // Gemma 3: the local RoPE base
  torch::Tensor mask_sliding;              // the window applied
  KVCache* cache = nullptr;
};

// softmax(scale q k^T (capped) + mask) v over H query heads sharing Hkv key/value heads.
// Projections: q_proj/k_proj/v_proj, or Phi-3's fused qkv_proj ([q; k; v] rows).
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& config, int64_t layer_index);
  torch::Tensor forward(const torch::Tensor& x, const AttentionInputs& in);  // [B, T, C]
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  Linear qkv_proj{nullptr};                  // Phi-3, instead of q/k/v_proj
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // Qwen3, Gemma 3: over D of each head

 private:
  // q [B, T, H*D], k/v [B, T, Hkv*D] from x [B, T, C].
  std::vector<torch::Tensor> project_qkv(const torch::Tensor& x);
  int64_t heads_, kv_heads_, head_dim_, layer_index_;
  bool sliding_;
  double scale_;                         // D^-1/2, or query_pre_attn_scalar^-1/2
  std::optional<double> logit_softcap_;  // Gemma 2
};
TORCH_MODULE(Attention);

// down(act(gate(x)) * up(x)): [B, T, C] -> [B, T, F] -> [B, T, C]; act = silu (SwiGLU) or
// Gemma's tanh GELU (GeGLU); gate and up from Phi-3's fused gate_up_proj ([gate; up] rows).
class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x);
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
  Linear gate_up_proj{nullptr};  // Phi-3, instead of gate_proj and up_proj

 private:
  bool gelu_tanh_;
};
TORCH_MODULE(MLP);

// x + attn(norm(x)), then h + mlp(norm(h)). Gemma's sandwich: h = x + post_attn(attn(in(x))),
// then h + post_ff(mlp(pre_ff(h))).
class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, int64_t layer_index);
  torch::Tensor forward(const torch::Tensor& x, const AttentionInputs& in);
  Attention self_attn{nullptr};
  MLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  RMSNorm pre_feedforward_layernorm{nullptr}, post_feedforward_layernorm{nullptr};  // Gemma
};
TORCH_MODULE(DecoderLayer);

struct ForwardOptions {
  torch::Tensor attention_mask;  // [B, S] 1 = real token, 0 = padding (S counts the cache)
  torch::Tensor position_ids;    // [B, T]; default: cache length + 0..T-1
  // [B, T] int64, packed rows: a token attends only to earlier tokens of its own segment
  // (no cache). Undefined: one sequence per row.
  torch::Tensor segment_ids;
  KVCache* cache = nullptr;  // appended to when given
};

// How LlamaModel runs each decoder layer; training plugs in gradient checkpointing here.
// Default (no runner): layer.forward(x, in).
class LayerRunner {
 public:
  virtual ~LayerRunner() = default;
  virtual torch::Tensor run(DecoderLayerImpl& layer, const torch::Tensor& x,
                            const AttentionInputs& in) = 0;
};

// "model.*": embeddings, layers and the final norm.
class LlamaModelImpl : public torch::nn::Module {
 public:
  explicit LlamaModelImpl(const ModelConfig& config);
  // input_ids [B, T] -> final hidden states [B, T, C] in the compute dtype.
  torch::Tensor forward(const torch::Tensor& input_ids, const ForwardOptions& options = {});
  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
  // Dtype of the activations: float32 on the CPU (float64 for gradient checks).
  c10::ScalarType compute_dtype = torch::kFloat32;
  std::shared_ptr<LayerRunner> layer_runner;  // null: run each layer directly

 private:
  ModelConfig config_;
  Rope rope_;
  std::optional<Rope> rope_sliding_;  // Gemma 3: sliding layers' own RoPE base
};
TORCH_MODULE(LlamaModel);

class LlamaForCausalLMImpl : public torch::nn::Module {
 public:
  explicit LlamaForCausalLMImpl(ModelConfig config);
  // input_ids [B, T] -> hidden [B, T, C] (call logits() for [B, T, V]).
  torch::Tensor forward(const torch::Tensor& input_ids, const ForwardOptions& options = {});
  // [..., C] -> [..., V] fp32 (or f64), soft-capped when the config says so (Gemma 2).
  torch::Tensor logits(const torch::Tensor& hidden);
  const ModelConfig& config() const { return config_; }
  // The output projection [V, C]: lm_head.weight, or the embedding itself when tied.
  torch::Tensor lm_head_weight() const;

  LlamaModel model{nullptr};
  Linear lm_head{nullptr};  // absent when tie_word_embeddings

 private:
  ModelConfig config_;
};
TORCH_MODULE(LlamaForCausalLM);

// The boolean attention mask [B, 1, T, S] for T queries at positions past..past+T-1 over S
// = past+T keys: causal, keys of padding excluded, Mistral's window applied (key s is
// visible from query q only when q - s < window), and with segment_ids [B, T] (packed rows,
// past must be 0) keys of other segments excluded. A query always sees itself, so no row is
// empty (rows of padding queries are garbage that nothing reads). The window counts row
// offsets, which within a segment (contiguous in its row) are its position offsets.
// Returns undefined when plain causal attention is exact (no padding, no segments, no
// window in reach).
torch::Tensor build_attention_mask(const torch::Tensor& attention_mask, int64_t past, int64_t T,
                                   std::optional<int64_t> sliding_window, torch::Device device,
                                   const torch::Tensor& segment_ids = {});

}  // namespace zili::model
