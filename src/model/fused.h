// Whether the model runs the fused CUDA kernels (kernels/) for a tensor: only in a build that
// has them (ZILI_HAS_CUDA_KERNELS), only on CUDA, and not after they are switched off
// (--no-fused: the plain-libtorch reference then runs on the GPU too).
#pragma once

#include <torch/torch.h>

namespace zili::model {

// True when this binary was built with the CUDA kernels.
bool fused_kernels_built();

// On by default; off makes every op take its reference path. Process-wide.
void set_fused_kernels_enabled(bool enabled);
bool fused_kernels_enabled();

// Built, enabled, and x on a CUDA device.
bool use_fused_kernels(const torch::Tensor& x);

}  // namespace zili::model
