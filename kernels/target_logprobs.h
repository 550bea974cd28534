// Fused CUDA steps of the chunked target log-probs (zili::model::target_logprobs,
// src/model/target_logprobs.cpp): for one chunk's logits z [n, V] = h W^T (made and used by
// cuBLAS GEMMs around these kernels), the row's logsumexp and the target's log-prob in one
// pass over z, and the logits' gradient written over z in one pass. The reference in plain
// libtorch ops is the same function's non-fused path (logsumexp, gather, sub_, exp_, mul_,
// scatter_add_).
//
// n: tokens of the chunk (rows of z); V: vocabulary. Everything float32 (the math dtype of
// fp32, bf16 and fp16 models); targets int64.
//
// Targets outside [0, V) are never read through: the forward writes lp = NaN for that row
// (lse stays right) and the backward adds no one-hot term to it. The kernels do not check the
// range on the host, which would cost a device sync per call; the caller does it once per
// forward (model::target_logprobs does).
#pragma once

#include <ATen/core/Tensor.h>

namespace zili::kernels {

// Per row n of z [n, V] with target t_n, in float32 with a fixed reduction order:
//   lse[n] = log Σ_v exp z[n, v],   lp[n] = z[n, t_n] - lse[n]
// z [n, V] float32 CUDA contiguous, V > 0; targets [n] int64; lse, lp [n] float32, every
// element of which is written. All on z's device, contiguous (a narrow of a 1-D tensor is).
void target_logprobs_forward_out(at::Tensor& lse, at::Tensor& lp, const at::Tensor& z,
                                 const at::Tensor& targets);

struct TargetLogprobsForward {
  at::Tensor lse;  // [n] float32
  at::Tensor lp;   // [n] float32
};
TargetLogprobsForward target_logprobs_forward(const at::Tensor& z, const at::Tensor& targets);

// The gradient of lp with respect to z, written over z (z is dz afterwards), given
// g = dL/dlp [n] and the forward's lse [n]:
//   z[n, v] <- g[n] * ([v = t_n] - exp(z[n, v] - lse[n]))
// z [n, V] float32 CUDA contiguous; lse, g [n] float32; targets [n] int64; on z's device,
// contiguous.
void target_logprobs_backward_(at::Tensor& z, const at::Tensor& lse, const at::Tensor& targets,
                               const at::Tensor& g);

}  // namespace zili::kernels
