// The LoRA linear layer: y = x W^T + b + s * (x_drop A^T) B^T with a custom backward that
// gives x, A and B their gradients from rank-r products only, the plain-ops reference it is
// tested against, and the adapter that plugs it into a model Linear.
#include "lora/lora_linear.h"

#include <optional>
#include <utility>

namespace zili::lora {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Shapes of one call, checked once: x [..., in], W [out, in], b [out], A [r, in], B [out, r],
// mask like x.
void check_shapes(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                  const torch::Tensor& lora_a, const torch::Tensor& lora_b,
                  const torch::Tensor& dropout_mask) {
  TORCH_CHECK(x.dim() >= 1, "lora_linear: x must have at least 1 dim, got ", x.sizes());
  TORCH_CHECK(weight.dim() == 2, "lora_linear: W must be [out, in], got ", weight.sizes());
  const int64_t out = weight.size(0), in = weight.size(1);
  TORCH_CHECK(x.size(-1) == in, "lora_linear: x [..., in] expected in = ", in, " (W ",
              weight.sizes(), "), got x ", x.sizes());
  TORCH_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out),
              "lora_linear: bias expected [", out, "], got ", bias.sizes());
  TORCH_CHECK(lora_a.dim() == 2 && lora_a.size(1) == in, "lora_linear: A expected [r, ", in,
              "], got ", lora_a.sizes());
  const int64_t r = lora_a.size(0);
  TORCH_CHECK(lora_b.dim() == 2 && lora_b.size(0) == out && lora_b.size(1) == r,
              "lora_linear: B expected [", out, ", ", r, "], got ", lora_b.sizes());
  TORCH_CHECK(!dropout_mask.defined() || dropout_mask.sizes() == x.sizes(),
              "lora_linear: dropout mask expected the shape of x ", x.sizes(), ", got ",
              dropout_mask.sizes());
}

// Forward, with N = number of tokens (all leading dims of x flattened):
//   base [N, out] = x W^T + b                  (the same linear call as LinearImpl::base_forward)
//   xa   [N, r]   = x_drop A^T,  x_drop = x ⊙ mask (or x)
//   y    [N, out] = base + s xa B^T            (addmm_ into base: no second [N, out] buffer)
//
// Backward, with g = dL/dy [N, out] and y_k = Σ_o x_o W_ko + b_k + s Σ_j (Σ_i xd_i A_ji) B_kj:
//   gB = g B                        [N, r]
//   dL/dx_i = Σ_k g_k W_ki + s Σ_j gB_j A_ji mask_i
//        => dX = g W + s (gB A) ⊙ mask      [N, in]   (⊙ mask dropped without dropout)
//   dL/dA_ji = s Σ_n gB_nj xd_ni  => dA = s gB^T x_drop   [r, in]
//   dL/dB_kj = s Σ_n g_nk xa_nj   => dB = s g^T xa        [out, r]
// Every product has r or the token dim as its inner or outer size: no [out, in] is formed,
// and W, b, mask get no gradient (frozen; returned undefined).
//
// Saved for backward: x (autograd keeps the input of the base product's sibling paths
// alive for q/k/v and gate/up anyway, and x_drop would be a new [N, in] tensor; backward
// recomputes x_drop = x ⊙ mask, one elementwise product), the mask (only with dropout: then
// it is an extra [N, in] tensor in the compute dtype per wrapped layer, a cost the training
// issue may cut by storing it as bytes or regenerating it from a seed), W, A and B (references to
// existing tensors, no copies), and xa [N, r]: r/in of x's size (0.4% for r=16, in=4096), which
// spares backward the 2·N·in·r FLOPs of recomputing x_drop A^T. Only saved when B requires grad.
//
// Dtypes: the math runs in x's dtype (W, b, A, B cast to it); dA and dB are returned in
// the dtype of A and B (fp32 master copies).
struct LoraLinearFunction : public torch::autograd::Function<LoraLinearFunction> {
  // Edge indices of the tensor inputs that are always present. The optional ones (bias,
  // mask) come last and are passed as std::optional: an undefined at::Tensor argument is
  // rejected by Function::apply, and an absent optional shifts the edges after it.
  enum Input : size_t { kX = 0, kWeight, kA, kB };

  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& lora_a,
                               const torch::Tensor& lora_b, double scale,
                               const std::optional<torch::Tensor>& bias_opt,
                               const std::optional<torch::Tensor>& mask_opt) {
    const torch::Tensor bias = bias_opt.value_or(torch::Tensor());
    const torch::Tensor dropout_mask = mask_opt.value_or(torch::Tensor());
    check_shapes(x, weight, bias, lora_a, lora_b, dropout_mask);
    const auto dtype = x.scalar_type();
    const int64_t in = weight.size(1), out = weight.size(0);

    torch::Tensor base = torch::nn::functional::linear(
        x, weight.to(dtype), bias.defined() ? bias.to(dtype) : torch::Tensor());  // [..., out]
    base = base.contiguous();  // a no-op for linear's output; the view below needs it

    const torch::Tensor mask = dropout_mask.defined() ? dropout_mask.to(dtype) : torch::Tensor();
    const torch::Tensor x2 = x.reshape({-1, in});                                 // [N, in]
    const torch::Tensor xd2 = mask.defined() ? x2 * mask.reshape({-1, in}) : x2;  // [N, in]
    const torch::Tensor xa = torch::mm(xd2, lora_a.to(dtype).t());                // [N, r]
    base.view({-1, out}).addmm_(xa, lora_b.to(dtype).t(), /*beta=*/1, /*alpha=*/scale);

    // needs_input_grad is not usable here (no edges exist when nothing requires grad).
    const bool keep_xa = lora_b.requires_grad();
    ctx->save_for_backward({x, mask, weight, lora_a, lora_b, keep_xa ? xa : torch::Tensor()});
    ctx->saved_data["scale"] = scale;
    return base;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &mask = saved[1], &weight = saved[2];
    const torch::Tensor &lora_a = saved[3], &lora_b = saved[4], &xa = saved[5];
    const double scale = ctx->saved_data["scale"].toDouble();
    const bool need_x = ctx->needs_input_grad(kX);
    const bool need_a = ctx->needs_input_grad(kA);
    const bool need_b = ctx->needs_input_grad(kB);

    const auto dtype = x.scalar_type();
    const int64_t in = weight.size(1), out = weight.size(0);
    TORCH_CHECK(grad_outputs.size() == 1, "lora_linear backward: expected 1 gradient, got ",
                grad_outputs.size());
    const torch::Tensor g = grad_outputs[0].to(dtype).reshape({-1, out});  // [N, out]
    const torch::Tensor a = lora_a.to(dtype), b = lora_b.to(dtype);        // [r, in], [out, r]

    torch::Tensor dx, da, db;
    if (need_x || need_a) {
      const torch::Tensor gb_s = torch::mm(g, b).mul_(scale);  // s gB [N, r]
      if (need_x) {
        dx = torch::mm(g, weight.to(dtype));  // g W [N, in]
        if (mask.defined()) {
          dx.addcmul_(torch::mm(gb_s, a), mask.reshape({-1, in}));  // + (s gB A) ⊙ mask
        } else {
          dx.addmm_(gb_s, a);  // + s gB A
        }
        dx = dx.view(x.sizes());
      }
      if (need_a) {
        const torch::Tensor x2 = x.reshape({-1, in});
        const torch::Tensor xd2 = mask.defined() ? x2 * mask.reshape({-1, in}) : x2;
        da = torch::mm(gb_s.t(), xd2).to(lora_a.scalar_type());  // s gB^T x_drop [r, in]
      }
    }
    if (need_b) {
      TORCH_CHECK(xa.defined(), "lora_linear backward: B needs its gradient but xa was not saved");
      db = torch::mm(g.t(), xa).mul_(scale).to(lora_b.scalar_type());  // s g^T xa [out, r]
    }
    // One entry per forward argument: x, W, A, B, scale, bias, mask.
    return {dx, torch::Tensor(), da, db, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor lora_linear(const torch::Tensor& x, const torch::Tensor& weight,
                          const torch::Tensor& bias, const torch::Tensor& lora_a,
                          const torch::Tensor& lora_b, double scale,
                          const torch::Tensor& dropout_mask) {
  const auto optional = [](const torch::Tensor& t) {
    return t.defined() ? std::optional<torch::Tensor>(t) : std::nullopt;
  };
  return LoraLinearFunction::apply(x, weight, lora_a, lora_b, scale, optional(bias),
                                   optional(dropout_mask));
}

torch::Tensor lora_linear_reference(const torch::Tensor& x, const torch::Tensor& weight,
                                    const torch::Tensor& bias, const torch::Tensor& lora_a,
                                    const torch::Tensor& lora_b, double scale,
                                    const torch::Tensor& dropout_mask) {
  check_shapes(x, weight, bias, lora_a, lora_b, dropout_mask);
  namespace F = torch::nn::functional;
  const auto dtype = x.scalar_type();
  // W and b are frozen here too, so the two paths agree on which inputs get gradients.
  const torch::Tensor base = F::linear(x, weight.detach().to(dtype),
                                       bias.defined() ? bias.detach().to(dtype) : torch::Tensor());
  const torch::Tensor x_drop =
      dropout_mask.defined() ? x * dropout_mask.detach().to(dtype) : x;  // [..., in]
  const torch::Tensor xa = F::linear(x_drop, lora_a.to(dtype));          // [..., r]
  return base + scale * F::linear(xa, lora_b.to(dtype));                 // [..., out]
}

LoraAdapter::LoraAdapter(torch::Tensor lora_a_, torch::Tensor lora_b_, double scale_,
                         double dropout_)
    : lora_a(std::move(lora_a_)), lora_b(std::move(lora_b_)), scale(scale_), dropout(dropout_) {
  TORCH_CHECK(dropout >= 0 && dropout < 1, "LoraAdapter: dropout expected in [0, 1), got ",
              dropout);
}

torch::Tensor LoraAdapter::forward(const model::LinearImpl& base, const torch::Tensor& x) {
  if (!enabled) return base.base_forward(x);
  torch::Tensor mask;  // [..., in] like x: 0 or 1/(1-p)
  if (training && dropout > 0) {
    mask = torch::empty_like(x).bernoulli_(1 - dropout).div_(1 - dropout);
  }
  return lora_linear(x, base.weight, base.bias, lora_a, lora_b, scale, mask);
}

}  // namespace zili::lora
