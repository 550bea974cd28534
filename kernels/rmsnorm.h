// Fused RMSNorm on CUDA: one kernel for the forward, one for dX and dWeight together (plus a
// small deterministic reduction of dWeight's per-block partial sums). The reference in plain
// libtorch ops is zili::model::rms_norm_reference (src/model/rms_norm.h).
//
// Rows N: all leading dims of x flattened; C: the normalised (last) dim.
// Dtypes: x, weight, y, dx, dweight float32, bfloat16 or float16 (all the same); the sums and
// the math run in float32; rstd is float32.
#pragma once

#include <ATen/core/Tensor.h>

namespace zili::kernels {

// y = x * rstd * weight with rstd = 1 / sqrt(mean(x^2) + eps) per row.
// x [..., C] contiguous CUDA, weight [C] -> y [..., C], rstd [N] (saved for the backward).
struct RmsNormForward {
  at::Tensor y;     // [..., C]
  at::Tensor rstd;  // [N] float32
};
RmsNormForward rms_norm_forward(const at::Tensor& x, const at::Tensor& weight, double eps);

// The same into given outputs, every element of which is written: y like x, rstd [N] float32.
void rms_norm_forward_out(at::Tensor& y, at::Tensor& rstd, const at::Tensor& x,
                          const at::Tensor& weight, double eps);

// Gradients of y = rms_norm(x, weight) given dy = dL/dy (like x, contiguous) and the rstd of
// the forward: dx like x, and dweight [C] (undefined unless `with_dweight`).
struct RmsNormBackward {
  at::Tensor dx;       // [..., C]
  at::Tensor dweight;  // [C] or undefined
};
RmsNormBackward rms_norm_backward(const at::Tensor& dy, const at::Tensor& x,
                                  const at::Tensor& weight, const at::Tensor& rstd,
                                  bool with_dweight);

// The same into given outputs: dx like x; dweight [C] like weight, or undefined to skip it.
void rms_norm_backward_out(at::Tensor& dx, at::Tensor& dweight, const at::Tensor& dy,
                           const at::Tensor& x, const at::Tensor& weight, const at::Tensor& rstd);

}  // namespace zili::kernels
