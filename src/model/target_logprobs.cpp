// log p(target | hidden) for the positions a loss covers, chunked over tokens: a chunk's
// logits [n, V] exist only while that chunk is processed, in the forward and again in the
// backward, which remakes them instead of keeping them. On CUDA (fp32 math, kernels built and
// enabled) the softmax steps of each chunk are the fused kernels of kernels/target_logprobs.cu;
// the GEMMs are cuBLAS either way. Gemma 2's final-logit soft-cap, z = cap tanh(y / cap) of
// the raw logits y, applies in both passes (plain ops: the fused kernels have no cap yet).
#include <algorithm>

#include "model/fused.h"
#include "model/logprobs.h"

#ifdef ZILI_HAS_CUDA_KERNELS
#include "kernels/target_logprobs.h"
#endif

namespace zili::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Vocabulary rows of a narrower-stored weight (bf16/f16) cast to the math dtype at a time:
// the transient copy is [kWeightSliceRows, C], never the whole [V, C].
//
// The cost on the GPU, where the weight is bf16: every chunk casts all of W again, once in
// the forward and twice in the backward (z and dh). Per pass that is V C (2 + 4 + 4) bytes
// (read bf16, write fp32, the GEMM reads fp32): 5.3 GB at V = 128256, C = 4096, about 1.1 ms
// at 4.8 TB/s, beside the pass's fp32 GEMM of 2 n V C = 269 GFLOP at n = 256, about 5 ms on
// CUDA cores (no TF32): some 20 %. hidden's cast, [n, C], is negligible. Kept for now: the
// fp32 GEMM, not the cast, is the larger cost, and both would go with a bf16 x bf16 -> fp32
// GEMM (tensor cores, fp32 accumulation, the same products exactly).
constexpr int64_t kWeightSliceRows = 8192;

// fp32 for fp32 and narrower hidden states; float64 stays float64 (gradient checks).
c10::ScalarType math_dtype(const torch::Tensor& hidden) {
  return torch::promote_types(hidden.scalar_type(), torch::kFloat32);
}

// Whether a chunk's softmax steps run the fused kernels: the build has them, they are enabled
// (not --no-fused), hidden is on CUDA and the math is fp32 (float64 keeps the plain ops).
bool use_fused(const torch::Tensor& hidden) {
  return use_fused_kernels(hidden) && math_dtype(hidden) == torch::kFloat32;
}

void check_inputs(const torch::Tensor& hidden, const torch::Tensor& weight,
                  const torch::Tensor& targets) {
  TORCH_CHECK(hidden.dim() == 2, "target_logprobs: hidden must be [N, C], got ", hidden.sizes());
  TORCH_CHECK(weight.dim() == 2 && weight.size(1) == hidden.size(1),
              "target_logprobs: weight expected [V, ", hidden.size(1), "], got ", weight.sizes());
  TORCH_CHECK(targets.dim() == 1 && targets.size(0) == hidden.size(0),
              "target_logprobs: targets expected [", hidden.size(0), "], got ", targets.sizes());
  TORCH_CHECK(targets.scalar_type() == torch::kInt64,
              "target_logprobs: targets expected int64, got ", targets.scalar_type());
  TORCH_CHECK(hidden.is_floating_point() && weight.is_floating_point(),
              "target_logprobs: hidden and weight expected floating point, got ",
              hidden.scalar_type(), " and ", weight.scalar_type());
}

// z [n, V] = h W^T in h's dtype; W is cast slice by slice when stored in another dtype.
torch::Tensor chunk_logits(const torch::Tensor& h, const torch::Tensor& weight) {
  if (weight.scalar_type() == h.scalar_type()) return torch::mm(h, weight.t());
  const int64_t V = weight.size(0);
  torch::Tensor z = torch::empty({h.size(0), V}, h.options());
  for (int64_t v0 = 0; v0 < V; v0 += kWeightSliceRows) {
    const int64_t rows = std::min(kWeightSliceRows, V - v0);
    z.narrow(1, v0, rows).copy_(torch::mm(h, weight.narrow(0, v0, rows).to(h.scalar_type()).t()));
  }
  return z;
}

// dh [n, C] = dz W in dz's dtype, W cast slice by slice as in chunk_logits.
torch::Tensor chunk_grad_hidden(const torch::Tensor& dz, const torch::Tensor& weight) {
  if (weight.scalar_type() == dz.scalar_type()) return torch::mm(dz, weight);
  const int64_t V = weight.size(0);
  torch::Tensor dh = torch::zeros({dz.size(0), weight.size(1)}, dz.options());
  for (int64_t v0 = 0; v0 < V; v0 += kWeightSliceRows) {
    const int64_t rows = std::min(kWeightSliceRows, V - v0);
    dh.addmm_(dz.narrow(1, v0, rows), weight.narrow(0, v0, rows).to(dz.scalar_type()));
  }
  return dh;
}

// targets [N] expected in [0, V): the plain ops' gather throws on one outside (on the CPU);
// the fused kernel would quietly give a NaN log-prob, so the fused path checks here, once per
// forward. One device sync (a [N] min and max read back), not one per chunk.
void check_targets_in_range(const torch::Tensor& targets, int64_t V) {
  if (targets.numel() == 0) return;
  const auto [lo, hi] = torch::aminmax(targets);
  const torch::Tensor range = torch::stack({lo, hi}).cpu();  // [2]: the one sync
  const int64_t min = range[0].item<int64_t>(), max = range[1].item<int64_t>();
  TORCH_CHECK(min >= 0 && max < V, "target_logprobs: targets expected in [0, ", V,
              ") (the vocabulary of weight), got values from ", min, " to ", max);
}

// lse [n] = logsumexp_v z, lp [n] = z[t] - lse for one chunk: z [n, V], t [n]; written into
// lse and lp (slices of the [N] results).
void chunk_lse_and_lp(const torch::Tensor& z, const torch::Tensor& t, torch::Tensor lse,
                      torch::Tensor lp, bool fused) {
#ifdef ZILI_HAS_CUDA_KERNELS
  if (fused) return kernels::target_logprobs_forward_out(lse, lp, z.contiguous(), t.contiguous());
#endif
  (void)fused;
  const torch::Tensor chunk_lse = z.logsumexp(1);  // [n]
  lse.copy_(chunk_lse);
  lp.copy_(z.gather(1, t.unsqueeze(1)).squeeze(1) - chunk_lse);
}

// z [n, V] -> dz = g ⊙ (onehot(t) - exp(z - lse)) in place, for one chunk: lse, t, g [n].
void chunk_logits_to_grad(torch::Tensor& z, const torch::Tensor& lse, const torch::Tensor& t,
                          const torch::Tensor& g, bool fused) {
#ifdef ZILI_HAS_CUDA_KERNELS
  if (fused) {
    if (!z.is_contiguous()) z = z.contiguous();  // mm's result is; a no-op then
    return kernels::target_logprobs_backward_(z, lse.contiguous(), t.contiguous(), g);
  }
#endif
  (void)fused;
  const torch::Tensor chunk_g = g.unsqueeze(1);    // [n, 1]
  z.sub_(lse.unsqueeze(1)).exp_().mul_(-chunk_g);  // -g p
  z.scatter_add_(1, t.unsqueeze(1), chunk_g);      // + g onehot(t)
}

// z = cap tanh(y / cap) in place of y [n, V]; returns tanh(y / cap) for the backward.
torch::Tensor soft_cap_(torch::Tensor& y, double cap) {
  torch::Tensor t = (y / cap).tanh_();
  y = t * cap;
  return t;
}

// Forward, for a chunk of n tokens with h [n, C] (cast to the math dtype), t [n]:
//   z [n, V] = h W^T,   lse [n] = log Σ_v exp z_v,   lp [n] = z[t] - lse
// With a soft-cap, y = h W^T and z = cap tanh(y / cap); then dz/dy = 1 - tanh^2(y / cap), so
// dy = dz ⊙ (1 - tanh^2) and dh, dW follow from dy as below from dz.
// Only lse is kept (N numbers); z is dropped when the chunk is done.
//
// Backward, with g = dL/dlp [N] and p = softmax(z) = exp(z - lse):
//   dlp_n / dz_nv = [v = t_n] - p_nv
//     => dz = g ⊙ (onehot(t) - p)          [n, V]  (g broadcast over v)
//   z_nv = Σ_c h_nc W_vc
//     => dh = dz W                          [n, C]
//     => dW = Σ_chunks dz^T h               [V, C]  (only when W requires grad: full
//                                                     fine-tuning of lm_head / tied embeddings)
// z is remade from h and W per chunk and turned into dz in place: one [n, V] buffer at a time.
// dW accumulates in the math dtype and is cast to W's dtype once at the end.
struct TargetLogprobsFunction : public torch::autograd::Function<TargetLogprobsFunction> {
  enum Input : size_t { kHidden = 0, kWeight, kTargets };

  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& weight, const torch::Tensor& targets,
                               int64_t chunk_tokens, double softcap) {
    const auto dtype = math_dtype(hidden);
    const int64_t N = hidden.size(0);
    const bool fused = use_fused(hidden) && softcap <= 0;
    if (fused) check_targets_in_range(targets, weight.size(0));
    torch::Tensor lp = torch::empty({N}, hidden.options().dtype(dtype));   // [N]
    torch::Tensor lse = torch::empty({N}, hidden.options().dtype(dtype));  // [N]
    for (int64_t start = 0; start < N; start += chunk_tokens) {
      const int64_t n = std::min(chunk_tokens, N - start);
      torch::Tensor z = chunk_logits(hidden.narrow(0, start, n).to(dtype), weight);  // [n, V]
      if (softcap > 0) soft_cap_(z, softcap);
      chunk_lse_and_lp(z, targets.narrow(0, start, n), lse.narrow(0, start, n),
                       lp.narrow(0, start, n), fused);
    }
    ctx->save_for_backward({hidden, weight, targets, lse});
    ctx->saved_data["chunk_tokens"] = chunk_tokens;
    ctx->saved_data["softcap"] = softcap;
    return lp;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    TORCH_CHECK(grad_outputs.size() == 1, "target_logprobs backward: expected 1 gradient, got ",
                grad_outputs.size());
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &hidden = saved[0], &weight = saved[1], &targets = saved[2];
    const torch::Tensor& lse = saved[3];
    const int64_t chunk_tokens = ctx->saved_data["chunk_tokens"].toInt();
    const double softcap = ctx->saved_data["softcap"].toDouble();
    const bool need_hidden = ctx->needs_input_grad(kHidden);
    const bool need_weight = ctx->needs_input_grad(kWeight);
    const auto dtype = math_dtype(hidden);
    const int64_t N = hidden.size(0);
    const bool fused = use_fused(hidden) && softcap <= 0;
    // [N]; the kernel wants it dense (the gradient of a sum arrives as an expanded scalar).
    const torch::Tensor g =
        fused ? grad_outputs[0].to(dtype).contiguous() : grad_outputs[0].to(dtype);

    torch::Tensor dh =
        need_hidden ? torch::empty({N, hidden.size(1)}, g.options()) : torch::Tensor();
    torch::Tensor dw =
        need_weight ? torch::zeros({weight.size(0), weight.size(1)}, g.options()) : torch::Tensor();
    if (need_hidden || need_weight) {
      for (int64_t start = 0; start < N; start += chunk_tokens) {
        const int64_t n = std::min(chunk_tokens, N - start);
        const torch::Tensor h = hidden.narrow(0, start, n).to(dtype);  // [n, C]
        torch::Tensor dz = chunk_logits(h, weight);                    // z [n, V]
        torch::Tensor tanh_y;                                          // [n, V], with a soft-cap
        if (softcap > 0) tanh_y = soft_cap_(dz, softcap);
        chunk_logits_to_grad(dz, lse.narrow(0, start, n), targets.narrow(0, start, n),
                             g.narrow(0, start, n), fused);  // dz [n, V]
        if (softcap > 0) dz.mul_(1 - tanh_y.square_());      // dy = dz (1 - tanh^2)
        if (need_hidden) dh.narrow(0, start, n).copy_(chunk_grad_hidden(dz, weight));
        if (need_weight) dw.addmm_(dz.t(), h);
      }
    }
    // One entry per forward argument: hidden, weight, targets, chunk_tokens, softcap.
    return {need_hidden ? dh.to(hidden.scalar_type()) : torch::Tensor(),
            need_weight ? dw.to(weight.scalar_type()) : torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor target_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                              const torch::Tensor& targets, int64_t chunk_tokens, double softcap) {
  check_inputs(hidden, weight, targets);
  if (chunk_tokens > 0)
    return TargetLogprobsFunction::apply(hidden, weight, targets, chunk_tokens, softcap);
  // The reference: the whole [N, V] logits under autograd.
  const auto dtype = math_dtype(hidden);
  torch::Tensor logits = torch::mm(hidden.to(dtype), weight.to(dtype).t());  // [N, V]
  if (softcap > 0) logits = torch::tanh(logits / softcap) * softcap;
  return torch::log_softmax(logits, 1).gather(1, targets.unsqueeze(1)).squeeze(1);
}

}  // namespace zili::model
