// RMSNorm: the plain-ops reference, the fused kernels wrapped as an autograd function, and
// the choice between them.
#include "model/rms_norm.h"

#include "model/fused.h"

#ifdef ZILI_HAS_CUDA_KERNELS
#include "kernels/rmsnorm.h"
#endif

namespace zili::model {

torch::Tensor rms_norm_reference(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                                 double weight_offset) {
  // variance [..., 1] = mean(x^2) over C in at least fp32 (float64 stays float64);
  // y = weight * (x * rsqrt(variance + eps)).
  const auto wide_dtype = torch::promote_types(x.scalar_type(), torch::kFloat32);
  torch::Tensor wide = x.to(wide_dtype);
  torch::Tensor variance = wide.pow(2).mean(-1, /*keepdim=*/true);
  torch::Tensor normed = wide * torch::rsqrt(variance + eps);
  // Gemma: (1 + w) applied in the wide dtype, one rounding at the end.
  if (weight_offset != 0.0)
    return (normed * (weight.to(wide_dtype) + weight_offset)).to(x.scalar_type());
  return weight.to(x.scalar_type()) * normed.to(x.scalar_type());
}

#ifdef ZILI_HAS_CUDA_KERNELS
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// y = rms_norm(x, weight) with the kernels' gradients (the derivation is above
// rms_norm_backward_kernel in kernels/rmsnorm.cu). x [..., C] contiguous, weight [C] in x's
// dtype. Saved for backward: x and weight (references, no copies) and rstd [N] float32, the
// only new tensor (the reference keeps an fp32 copy of x and the normalised x instead).
struct RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, double eps) {
    kernels::RmsNormForward out = kernels::rms_norm_forward(x, weight, eps);
    ctx->save_for_backward({x, weight, out.rstd});
    return out.y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    TORCH_CHECK(grad_outputs.size() == 1, "rms_norm backward: expected 1 gradient, got ",
                grad_outputs.size());
    kernels::RmsNormBackward grads =
        kernels::rms_norm_backward(grad_outputs[0].contiguous(), saved[0], saved[1], saved[2],
                                   /*with_dweight=*/ctx->needs_input_grad(1));
    return {grads.dx, grads.dweight, torch::Tensor()};  // x, weight, eps
  }
};

}  // namespace
#endif

torch::Tensor rms_norm_fused(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
#ifdef ZILI_HAS_CUDA_KERNELS
  return RmsNormFunction::apply(x.contiguous(), weight.to(x.scalar_type()).contiguous(), eps);
#else
  (void)x, (void)weight, (void)eps;
  TORCH_CHECK(false, "rms_norm_fused: this build has no CUDA kernels (ZILI_CUDA=OFF)");
#endif
}

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                       double weight_offset) {
  const auto dtype = x.scalar_type();
  const bool has_kernel =
      dtype == torch::kFloat32 || dtype == torch::kBFloat16 || dtype == torch::kFloat16;
  if (has_kernel && weight_offset == 0.0 && use_fused_kernels(x))
    return rms_norm_fused(x, weight, eps);
  return rms_norm_reference(x, weight, eps, weight_offset);
}

}  // namespace zili::model
