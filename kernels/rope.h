// Fused rotary position embedding (RoPE) on CUDA, Hugging Face's rotate_half convention (the
// head dim split in two halves, not interleaved pairs). One kernel rotates q or k; the same
// kernel with the transposed rotation gives the gradient. The reference in plain libtorch ops
// is zili::model::apply_rope (src/model/rope.h).
//
// x [B, heads, T, D] with any strides whose last is 1: q and k arrive as transposed views of
// their projections' [B, T, heads, D], read and written where they lie, with no copy.
// cos, sin [B, T, D] float32 contiguous, as model::Rope::cos_sin makes them (the frequencies
// already scaled, linear or llama3). The kernel reads both halves of each, so it computes
// x * cos + rotate_half(x) * sin for any cos and sin, not only ones whose halves are equal.
// Dtypes: x, y, dy, dx float32, bfloat16 or float16 (all the same); the math is float32, the
// result rounded once.
#pragma once

#include <ATen/core/Tensor.h>

namespace zili::kernels {

// y = x * cos + rotate_half(x) * sin, rotate_half([x1, x2]) = [-x2, x1] over the halves of D.
// y [B, heads, T, D] with any strides whose last is 1, every element of which is written. y may
// be x itself (rotated in place); otherwise it must not share x's memory.
void rope_forward_out(at::Tensor& y, const at::Tensor& x, const at::Tensor& cos,
                      const at::Tensor& sin);

// The same into a new tensor laid out like x (at::empty_like: x's strides when x is dense, so
// q and k keep their projection's [B, T, heads, D] memory order).
at::Tensor rope_forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// dx = dL/dx for dy = dL/dy of y = rope_forward(x, cos, sin): the transposed rotation of dy
// (the inverse rotation when the halves of cos and sin are equal). dy and dx as x and y above:
// dx may be dy itself, else must not share its memory.
void rope_backward_out(at::Tensor& dx, const at::Tensor& dy, const at::Tensor& cos,
                       const at::Tensor& sin);

// The same into a new tensor laid out like dy.
at::Tensor rope_backward(const at::Tensor& dy, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace zili::kernels
