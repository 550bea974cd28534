// The LoRA linear layer: y = x W^T + b + s * (x_drop A^T) B^T with a custom backward that
// gives x, A and B their gradients from rank-r products only, the plain-ops reference it is
// tested against, and the adapter that plugs it into a model Linear.
#include "lora/lora_linear.h"

#include <mutex>
#include <optional>
#include <utility>

#include "lora/hashed_dropout.h"
#include "lora/lora_shared_input.h"

namespace zili::lora {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The dropout mask [..., in] like x: 0 with probability p, else 1/(1-p), drawn from
// `generator` (bernoulli_ keeps no state of its own: the same generator state and shape give
// the same mask).
torch::Tensor draw_dropout_mask(const torch::Tensor& x, double p, const at::Generator& generator) {
  return torch::empty_like(x).bernoulli_(1 - p, generator).div_(1 - p);
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
// recomputes x_drop = x ⊙ mask, one elementwise product), W, A and B (references to existing
// tensors, no copies), and xa [N, r]: r/in of x's size (0.4% for r=16, in=4096), which spares
// backward the 2·N·in·r FLOPs of recomputing x_drop A^T; only saved when B requires grad.
// A mask given by the caller is saved too (an [N, in] tensor); one drawn inside
// (dropout_p > 0) is not. Where the fused kernels run (hashed_dropout_fused: CUDA), the mask is
// a hash of a per-call seed and the element index (hashed_dropout.h): the kernel applies it
// while reading x, the backward applies it again from the seed (8 bytes kept), and no mask
// tensor is ever made. Elsewhere bernoulli_ draws it: only the generator state before the
// draw is kept (5056 bytes on the CPU), and backward draws the same mask again.
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
                               const std::optional<torch::Tensor>& mask_opt, double dropout_p) {
    const torch::Tensor bias = bias_opt.value_or(torch::Tensor());
    torch::Tensor dropout_mask = mask_opt.value_or(torch::Tensor());
    TORCH_CHECK(dropout_p == 0 || !dropout_mask.defined(),
                "lora_linear: a mask and dropout_p both given");
    torch::Tensor generator_state;  // [bytes] uint8, with dropout_p > 0 drawn by bernoulli_
    const bool hashed = dropout_p > 0 && hashed_dropout_fused(x);
    const uint64_t seed = hashed ? draw_dropout_seed() : 0;
    if (dropout_p > 0 && !hashed) {
      at::Generator generator = at::globalContext().defaultGenerator(x.device());
      {
        std::lock_guard<std::mutex> lock(generator.mutex());
        generator_state = generator.get_state();
      }
      dropout_mask = draw_dropout_mask(x, dropout_p, generator);
    }
    check_lora_linear_shapes(x, weight, bias, lora_a, lora_b, dropout_mask);
    const auto dtype = x.scalar_type();
    const int64_t in = weight.size(1), out = weight.size(0);

    torch::Tensor base = torch::nn::functional::linear(
        x, weight.to(dtype), bias.defined() ? bias.to(dtype) : torch::Tensor());  // [..., out]
    base = base.contiguous();  // a no-op for linear's output; the view below needs it

    const torch::Tensor mask = dropout_mask.defined() ? dropout_mask.to(dtype) : torch::Tensor();
    const torch::Tensor x2 = x.reshape({-1, in});  // [N, in]
    const torch::Tensor xd2 = hashed           ? hashed_dropout(x2.contiguous(), seed, dropout_p)
                              : mask.defined() ? x2 * mask.reshape({-1, in})
                                               : x2;                // [N, in]
    const torch::Tensor xa = torch::mm(xd2, lora_a.to(dtype).t());  // [N, r]
    base.view({-1, out}).addmm_(xa, lora_b.to(dtype).t(), /*beta=*/1, /*alpha=*/scale);

    // needs_input_grad is not usable here (no edges exist when nothing requires grad).
    const bool keep_xa = lora_b.requires_grad();
    const bool keep_mask = mask.defined() && dropout_p == 0;  // a drawn mask is drawn again
    ctx->save_for_backward({x, keep_mask ? mask : torch::Tensor(), weight, lora_a, lora_b,
                            keep_xa ? xa : torch::Tensor()});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["dropout_p"] = dropout_p;
    if (generator_state.defined()) ctx->saved_data["generator_state"] = generator_state;
    if (hashed) ctx->saved_data["dropout_seed"] = static_cast<int64_t>(seed);  // the same bits
    return base;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[2];
    const torch::Tensor &lora_a = saved[3], &lora_b = saved[4], &xa = saved[5];
    const double scale = ctx->saved_data["scale"].toDouble();
    const double dropout_p = ctx->saved_data["dropout_p"].toDouble();
    const bool need_x = ctx->needs_input_grad(kX);
    const bool need_a = ctx->needs_input_grad(kA);
    const bool need_b = ctx->needs_input_grad(kB);

    // The mask: by hash from the forward's seed (never made), saved, or drawn again from a
    // generator of the same kind, set to the state the forward's draw started from (the
    // device's own generator is not touched).
    const bool hashed = ctx->saved_data.count("dropout_seed") > 0;
    const auto seed =
        hashed ? static_cast<uint64_t>(ctx->saved_data["dropout_seed"].toInt()) : uint64_t{0};
    torch::Tensor mask = saved[1];
    if (dropout_p > 0 && !hashed && (need_x || need_a)) {
      at::Generator device_generator = at::globalContext().defaultGenerator(x.device());
      at::Generator replay;
      {
        std::lock_guard<std::mutex> lock(device_generator.mutex());
        replay = device_generator.clone();
      }
      replay.set_state(ctx->saved_data["generator_state"].toTensor());
      mask = draw_dropout_mask(x, dropout_p, replay).to(x.scalar_type());
    }

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
        if (hashed) {
          hashed_dropout_accumulate(dx, torch::mm(gb_s, a), seed, dropout_p);  // + (s gB A) ⊙ m
        } else if (mask.defined()) {
          dx.addcmul_(torch::mm(gb_s, a), mask.reshape({-1, in}));  // + (s gB A) ⊙ mask
        } else {
          dx.addmm_(gb_s, a);  // + s gB A
        }
        dx = dx.view(x.sizes());
      }
      if (need_a) {
        const torch::Tensor x2 = x.reshape({-1, in});
        const torch::Tensor xd2 = hashed ? hashed_dropout(x2.contiguous(), seed, dropout_p)
                                  : mask.defined() ? x2 * mask.reshape({-1, in})
                                                   : x2;
        da = torch::mm(gb_s.t(), xd2).to(lora_a.scalar_type());  // s gB^T x_drop [r, in]
      }
    }
    if (need_b) {
      TORCH_CHECK(xa.defined(), "lora_linear backward: B needs its gradient but xa was not saved");
      db = torch::mm(g.t(), xa).mul_(scale).to(lora_b.scalar_type());  // s g^T xa [out, r]
    }
    // One entry per forward argument: x, W, A, B, scale, bias, mask, dropout_p.
    return {dx,
            torch::Tensor(),
            da,
            db,
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

void check_lora_linear_shapes(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, const torch::Tensor& lora_a,
                              const torch::Tensor& lora_b, const torch::Tensor& dropout_mask) {
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

torch::Tensor lora_linear(const torch::Tensor& x, const torch::Tensor& weight,
                          const torch::Tensor& bias, const torch::Tensor& lora_a,
                          const torch::Tensor& lora_b, double scale,
                          const torch::Tensor& dropout_mask) {
  const auto optional = [](const torch::Tensor& t) {
    return t.defined() ? std::optional<torch::Tensor>(t) : std::nullopt;
  };
  return LoraLinearFunction::apply(x, weight, lora_a, lora_b, scale, optional(bias),
                                   optional(dropout_mask), 0.0);
}

torch::Tensor lora_linear_with_dropout(const torch::Tensor& x, const torch::Tensor& weight,
                                       const torch::Tensor& bias, const torch::Tensor& lora_a,
                                       const torch::Tensor& lora_b, double scale, double p) {
  TORCH_CHECK(p >= 0 && p < 1, "lora_linear_with_dropout: p expected in [0, 1), got ", p);
  const std::optional<torch::Tensor> bias_opt =
      bias.defined() ? std::optional<torch::Tensor>(bias) : std::nullopt;
  return LoraLinearFunction::apply(x, weight, lora_a, lora_b, scale, bias_opt, std::nullopt, p);
}

torch::Tensor lora_linear_reference(const torch::Tensor& x, const torch::Tensor& weight,
                                    const torch::Tensor& bias, const torch::Tensor& lora_a,
                                    const torch::Tensor& lora_b, double scale,
                                    const torch::Tensor& dropout_mask) {
  check_lora_linear_shapes(x, weight, bias, lora_a, lora_b, dropout_mask);
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
  // Dropout only while training; its mask is drawn inside and drawn again in the backward.
  return lora_linear_with_dropout(x, base.weight, base.bias, lora_a, lora_b, scale,
                                  training ? dropout : 0.0);
}

std::vector<torch::Tensor> LoraAdapter::forward_group(
    const std::vector<const model::LinearImpl*>& layers, const torch::Tensor& x) {
  std::vector<torch::Tensor> weights, biases, lora_as, lora_bs;
  std::vector<double> scales;
  for (const model::LinearImpl* layer : layers) {
    const auto* lora = dynamic_cast<const LoraAdapter*>(layer->adapter.get());
    if (lora == nullptr || !lora->enabled || (lora->training && lora->dropout > 0)) return {};
    weights.push_back(layer->weight);
    biases.push_back(layer->bias);
    lora_as.push_back(lora->lora_a);
    lora_bs.push_back(lora->lora_b);
    scales.push_back(lora->scale);
  }
  return lora_linear_shared_input(x, weights, biases, lora_as, lora_bs, scales);
}

}  // namespace zili::lora
