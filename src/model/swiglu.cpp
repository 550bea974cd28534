// SwiGLU: the plain-ops reference, the fused kernels wrapped as an autograd function, and the
// choice between them.
#include "model/swiglu.h"

#include "model/fused.h"

#ifdef ZILI_HAS_CUDA_KERNELS
#include "kernels/swiglu.h"
#endif

namespace zili::model {

torch::Tensor swiglu_reference(const torch::Tensor& gate, const torch::Tensor& up) {
  return torch::silu(gate) * up;
}

#ifdef ZILI_HAS_CUDA_KERNELS
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// h = silu(gate) * up with the kernels' gradients (derived above swiglu_backward_kernel in
// kernels/swiglu.cu). gate, up [..., F] contiguous, same dtype. Saved for backward: gate and
// up (references to the projections' outputs, no copies).
struct SwigluFunction : public torch::autograd::Function<SwigluFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& gate,
                               const torch::Tensor& up) {
    ctx->save_for_backward({gate, up});
    return kernels::swiglu_forward(gate, up);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    TORCH_CHECK(grad_outputs.size() == 1, "swiglu backward: expected 1 gradient, got ",
                grad_outputs.size());
    const auto saved = ctx->get_saved_variables();
    const bool with_dgate = ctx->needs_input_grad(0), with_dup = ctx->needs_input_grad(1);
    if (!with_dgate && !with_dup) return {torch::Tensor(), torch::Tensor()};
    kernels::SwigluBackward grads = kernels::swiglu_backward(grad_outputs[0].contiguous(), saved[0],
                                                             saved[1], with_dgate, with_dup);
    return {grads.dgate, grads.dup};  // gate, up
  }
};

}  // namespace
#endif

torch::Tensor swiglu_fused(const torch::Tensor& gate, const torch::Tensor& up) {
#ifdef ZILI_HAS_CUDA_KERNELS
  return SwigluFunction::apply(gate.contiguous(), up.contiguous());
#else
  (void)gate, (void)up;
  TORCH_CHECK(false, "swiglu_fused: this build has no CUDA kernels (ZILI_CUDA=OFF)");
#endif
}

torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up) {
  const auto dtype = gate.scalar_type();
  const bool has_kernel =
      (dtype == torch::kFloat32 || dtype == torch::kBFloat16 || dtype == torch::kFloat16) &&
      up.scalar_type() == dtype && up.sizes() == gate.sizes() && up.device() == gate.device();
  if (has_kernel && use_fused_kernels(gate)) return swiglu_fused(gate, up);
  return swiglu_reference(gate, up);
}

torch::Tensor geglu_tanh(const torch::Tensor& gate, const torch::Tensor& up) {
  return torch::gelu(gate, "tanh") * up;
}

}  // namespace zili::model
