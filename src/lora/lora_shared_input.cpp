// LoRA layers that share their input as one autograd function: one x A_cat^T product forward,
// one (s gB)_cat A_cat and one (s gB)_cat^T x backward.
#include "lora/lora_shared_input.h"

#include "lora/lora_linear.h"

namespace zili::lora {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A_cat [R, in] = [A_1; ...; A_k] in `dtype`: a small copy (R in elements), made again in the
// backward rather than kept.
torch::Tensor stacked_lora_a(const std::vector<torch::Tensor>& lora_as, c10::ScalarType dtype) {
  std::vector<torch::Tensor> parts;
  parts.reserve(lora_as.size());
  for (const torch::Tensor& a : lora_as) parts.push_back(a.to(dtype));
  return torch::cat(parts, 0);
}

// Forward, with N tokens (leading dims of x flattened), offsets o_i = r_1 + ... + r_{i-1}:
//   xa   [N, R]     = x A_cat^T                        (one read of x for all k paths)
//   y_i  [N, out_i] = x W_i^T + b_i + s_i xa[:, o_i : o_i + r_i] B_i^T   (addmm_ into the base)
//
// Backward, with g_i = dL/dy_i [N, out_i]; each y_i alone has the gradients of lora_linear
// (derived above LoraLinearFunction in lora_linear.cpp) and x's gradient is their sum:
//   gB   [N, R]     = [s_1 g_1 B_1, ..., s_k g_k B_k]  (column blocks)
//   dX   [N, in]    = Σ_i g_i W_i + Σ_i (s_i g_i B_i) A_i = Σ_i g_i W_i + gB A_cat
//   dA_cat [R, in]  = gB^T x,  dA_i = its rows o_i .. o_i + r_i - 1
//   dB_i [out_i, r_i] = s_i g_i^T xa[:, o_i : o_i + r_i]
// dX is accumulated in place (addmm_) into one buffer. Saved: x, W_i, A_i, B_i (references,
// no copies) and xa [N, R] when some B_i needs its gradient.
struct LoraSharedInputFunction : public torch::autograd::Function<LoraSharedInputFunction> {
  // The inputs in order: x (edge 0), A_1..A_k (edges 1..k), B_1..B_k (edges k+1..2k), then
  // the frozen weights, biases and the scales (not autograd inputs).
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& x,
                               at::TensorList lora_as_list, at::TensorList lora_bs_list,
                               const std::vector<torch::Tensor>& weights,
                               const std::vector<torch::Tensor>& biases,
                               const std::vector<double>& scales) {
    const std::vector<torch::Tensor> lora_as = lora_as_list.vec(), lora_bs = lora_bs_list.vec();
    const size_t k = weights.size();
    TORCH_CHECK(k >= 1 && lora_as.size() == k && lora_bs.size() == k && biases.size() == k &&
                    scales.size() == k,
                "lora_linear_shared_input: expected as many A, B, biases and scales as weights (",
                k, "), got ", lora_as.size(), ", ", lora_bs.size(), ", ", biases.size(), ", ",
                scales.size());
    for (size_t i = 0; i < k; ++i) {
      check_lora_linear_shapes(x, weights[i], biases[i], lora_as[i], lora_bs[i], {});
    }
    const auto dtype = x.scalar_type();
    const int64_t in = x.size(-1);
    const torch::Tensor x2 = x.reshape({-1, in});                                // [N, in]
    const torch::Tensor xa = torch::mm(x2, stacked_lora_a(lora_as, dtype).t());  // [N, R]

    variable_list outputs;
    outputs.reserve(k);
    int64_t offset = 0;
    bool keep_xa = false;
    for (size_t i = 0; i < k; ++i) {
      const int64_t out = weights[i].size(0), r = lora_as[i].size(0);
      torch::Tensor y = torch::nn::functional::linear(
          x, weights[i].to(dtype), biases[i].defined() ? biases[i].to(dtype) : torch::Tensor());
      y = y.contiguous();  // [..., out]; a no-op for linear's output, the view below needs it
      y.view({-1, out}).addmm_(xa.narrow(1, offset, r), lora_bs[i].to(dtype).t(), /*beta=*/1,
                               /*alpha=*/scales[i]);
      outputs.push_back(y);
      offset += r;
      keep_xa = keep_xa || lora_bs[i].requires_grad();
    }

    variable_list saved{x, keep_xa ? xa : torch::Tensor()};
    saved.insert(saved.end(), weights.begin(), weights.end());
    saved.insert(saved.end(), lora_as.begin(), lora_as.end());
    saved.insert(saved.end(), lora_bs.begin(), lora_bs.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["scales"] = scales;
    return outputs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const std::vector<double> scales = ctx->saved_data["scales"].toDoubleVector();
    const size_t k = scales.size();
    TORCH_CHECK(grad_outputs.size() == k && saved.size() == 2 + 3 * k,
                "lora_linear_shared_input backward: expected ", k, " gradients, got ",
                grad_outputs.size());
    const torch::Tensor &x = saved[0], &xa = saved[1];
    const std::vector<torch::Tensor> weights(saved.begin() + 2, saved.begin() + 2 + k);
    const std::vector<torch::Tensor> lora_as(saved.begin() + 2 + k, saved.begin() + 2 + 2 * k);
    const std::vector<torch::Tensor> lora_bs(saved.begin() + 2 + 2 * k, saved.end());
    const auto dtype = x.scalar_type();
    const int64_t in = x.size(-1);

    const bool need_x = ctx->needs_input_grad(0);
    bool need_any_a = false;
    for (size_t i = 0; i < k; ++i) need_any_a = need_any_a || ctx->needs_input_grad(1 + i);

    std::vector<torch::Tensor> g(k);  // g_i [N, out_i]
    for (size_t i = 0; i < k; ++i) {
      g[i] = grad_outputs[i].to(dtype).reshape({-1, weights[i].size(0)});
    }

    // One gradient per forward argument: x, A_1..A_k, B_1..B_k, weights, biases, scales.
    variable_list grads(1 + 2 * k + 3);
    if (need_x || need_any_a) {
      std::vector<torch::Tensor> gb_parts(k);  // s_i g_i B_i [N, r_i]
      for (size_t i = 0; i < k; ++i) {
        gb_parts[i] = torch::mm(g[i], lora_bs[i].to(dtype)).mul_(scales[i]);
      }
      const torch::Tensor gb = torch::cat(gb_parts, 1);  // [N, R]
      if (need_x) {
        torch::Tensor dx = torch::mm(g[0], weights[0].to(dtype));  // [N, in]
        for (size_t i = 1; i < k; ++i) dx.addmm_(g[i], weights[i].to(dtype));
        dx.addmm_(gb, stacked_lora_a(lora_as, dtype));
        grads[0] = dx.view(x.sizes());
      }
      if (need_any_a) {
        const torch::Tensor da = torch::mm(gb.t(), x.reshape({-1, in}));  // [R, in]
        int64_t offset = 0;
        for (size_t i = 0; i < k; ++i) {
          const int64_t r = lora_as[i].size(0);
          if (ctx->needs_input_grad(1 + i)) {
            grads[1 + i] = da.narrow(0, offset, r).to(lora_as[i].scalar_type());
          }
          offset += r;
        }
      }
    }
    int64_t offset = 0;
    for (size_t i = 0; i < k; ++i) {
      const int64_t r = lora_as[i].size(0);
      if (ctx->needs_input_grad(1 + k + i)) {
        TORCH_CHECK(xa.defined(),
                    "lora_linear_shared_input backward: B needs its gradient but xa was not saved");
        grads[1 + k + i] = torch::mm(g[i].t(), xa.narrow(1, offset, r))
                               .mul_(scales[i])
                               .to(lora_bs[i].scalar_type());  // s g_i^T xa_i [out_i, r_i]
      }
      offset += r;
    }
    return grads;
  }
};

}  // namespace

std::vector<torch::Tensor> lora_linear_shared_input(const torch::Tensor& x,
                                                    const std::vector<torch::Tensor>& weights,
                                                    const std::vector<torch::Tensor>& biases,
                                                    const std::vector<torch::Tensor>& lora_as,
                                                    const std::vector<torch::Tensor>& lora_bs,
                                                    const std::vector<double>& scales) {
  return LoraSharedInputFunction::apply(x, at::TensorList(lora_as), at::TensorList(lora_bs),
                                        weights, biases, scales);
}

}  // namespace zili::lora
