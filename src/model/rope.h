// Rotary position embeddings in the Hugging Face "rotate_half" convention: the head
// dimension is split in two halves (not interleaved pairs), with optional linear or
// llama3 frequency scaling.
#pragma once

#include <torch/torch.h>

#include "model/config.h"

namespace zili::model {

// inv_freq[i] = 1 / theta^(2i / D), i = 0..D/2-1, then scaled:
//   linear: inv_freq / factor (the same as positions / factor);
//   llama3 (Llama 3.1): wavelengths 2 pi / inv_freq longer than original_max / low_freq_factor
//     are divided by factor, shorter than original_max / high_freq_factor kept, and those in
//     between interpolated with s = (original_max / wavelen - low) / (high - low):
//     (1 - s) inv_freq / factor + s inv_freq.
// Returns [D/2] float32.
torch::Tensor rope_inverse_frequencies(const ModelConfig& config);

class Rope {
 public:
  explicit Rope(const ModelConfig& config);
  // positions [B, T] (int64) -> cos, sin [B, T, D], where the angle of column j is
  // position * inv_freq[j mod D/2] (the two halves share frequencies). Computed in float32
  // as transformers does, or in float64 when `dtype` is float64.
  std::pair<torch::Tensor, torch::Tensor> cos_sin(const torch::Tensor& positions,
                                                  c10::ScalarType dtype = torch::kFloat32) const;

 private:
  torch::Tensor inv_freq_;  // [D/2] float32
};

// The reference in plain libtorch ops (the CPU path, and the GPU path with --no-fused).
// x [B, heads, T, D], cos/sin [B, T, D]: x * cos + rotate_half(x) * sin with
// rotate_half([x1, x2]) = [-x2, x1] over the two halves of D. Computed in x's dtype.
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin);

// The same through the fused kernel (kernels/rope.h), forward and backward each one kernel,
// in float32 inside; cos and sin get no gradient. Needs a build with kernels, x on CUDA in
// float32, bfloat16 or float16 with an even D, cos/sin float32 [B, T, D] (made contiguous).
// x may be any view whose last stride is 1 (q and k: transposes of [B, T, heads, D]); it is
// read where it lies and not modified: the result is a new tensor laid out like x.
torch::Tensor rope_fused(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin);

// rope_fused when use_fused_kernels(x), x's dtype has a kernel and cos and sin are float32
// [B, T, D] of x's B, T and D that need no gradient; else apply_rope (bit for bit the ops from
// before the kernels, on the CPU always).
torch::Tensor rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace zili::model
