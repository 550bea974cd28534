// Fused SwiGLU on CUDA: h = silu(gate) * up in one kernel, and both input gradients from dh and
// the saved gate and up in one more. The reference in plain libtorch ops is
// zili::model::swiglu_reference (src/model/swiglu.h).
//
// gate, up, h, dh, dgate, dup [..., F], all the same sizes, contiguous, on one CUDA device.
// Dtypes: float32, bfloat16 or float16 (all the same); the math is float32, each result rounded
// once.
#pragma once

#include <ATen/core/Tensor.h>

namespace zili::kernels {

// h = silu(gate) * up = gate * sigmoid(gate) * up, into h [..., F], every element of which is
// written. h must not share memory with gate or up.
void swiglu_forward_out(at::Tensor& h, const at::Tensor& gate, const at::Tensor& up);

// The same into a new tensor.
at::Tensor swiglu_forward(const at::Tensor& gate, const at::Tensor& up);

// Gradients of h = swiglu(gate, up) given dh = dL/dh.
struct SwigluBackward {
  at::Tensor dgate;  // [..., F] or undefined
  at::Tensor dup;    // [..., F] or undefined
};

// The same into given outputs, each like gate, or undefined to skip it (not both); neither may
// share memory with dh, gate or up.
void swiglu_backward_out(at::Tensor& dgate, at::Tensor& dup, const at::Tensor& dh,
                         const at::Tensor& gate, const at::Tensor& up);

// Into new tensors: dgate when `with_dgate`, dup when `with_dup` (at least one of them).
SwigluBackward swiglu_backward(const at::Tensor& dh, const at::Tensor& gate, const at::Tensor& up,
                               bool with_dgate, bool with_dup);

}  // namespace zili::kernels
