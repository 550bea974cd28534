// RMSNorm as a function: the reference in plain libtorch ops (the CPU path, and the GPU path
// with --no-fused), the fused CUDA kernels (kernels/rmsnorm.h) under autograd, and the
// dispatch between them that RMSNormImpl calls.
#pragma once

#include <torch/torch.h>

namespace zili::model {

// y = weight * (x * rsqrt(mean(x^2) + eps)), the mean over the last dim, computed in at least
// float32 and rounded to x's dtype before the weight product, as transformers' LlamaRMSNorm.
// With weight_offset != 0 (Gemma: 1), y = (x * rsqrt(mean(x^2) + eps)) * (offset + weight)
// all in at least float32 and rounded once at the end, as transformers' GemmaRMSNorm.
// x [..., C], weight [C] (any float dtype, cast to x's) -> y [..., C] in x's dtype.
torch::Tensor rms_norm_reference(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                                 double weight_offset = 0.0);

// The same through the fused kernels: forward and backward (dx, and dweight when weight
// requires grad) each in one kernel. Needs a build with kernels, x on CUDA in float32,
// bfloat16 or float16; weight is cast to x's dtype and x made contiguous first.
torch::Tensor rms_norm_fused(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// rms_norm_fused when use_fused_kernels(x), x's dtype has a kernel and weight_offset is 0 (the
// kernel has no (1 + w) form yet), else the reference (bit for bit the same ops as before
// the kernels existed, on the CPU always).
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                       double weight_offset = 0.0);

}  // namespace zili::model
