// LoRA dropout by hash: element i of x is kept or dropped by a hash of (seed, i), so no mask
// tensor is stored from the forward to the backward, and the fused CUDA kernels
// (kernels/lora_dropout.h, whose header gives the hash) compute it inside the pass that makes
// x's dropped copy. Here: the
// mask in plain libtorch ops (the kernels' reference), the dispatch between the two, and the
// per-call seed. lora_linear_with_dropout takes this path where the fused kernels run (CUDA);
// elsewhere it draws its mask with bernoulli_ (lora_linear.h).
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace zili::lora {

// keep_i for the flat indices `indices` (int64, any shape, values >= 0): bool, same shape.
torch::Tensor hashed_dropout_keep(const torch::Tensor& indices, uint64_t seed, double p);

// The mask m [sizes]: keep_i / (1 - p) for the flat index i of each element, in `options`'
// dtype and device (1 / (1 - p) rounded to float32, then to that dtype, as the kernels do).
torch::Tensor hashed_dropout_mask(at::IntArrayRef sizes, uint64_t seed, double p,
                                  const torch::TensorOptions& options);

// True when hashed_dropout below runs the fused kernel for x: the build has it, it is switched
// on, x is on CUDA in float32, bfloat16 or float16.
bool hashed_dropout_fused(const torch::Tensor& x);

// x ⊙ m for a contiguous x: the kernel when hashed_dropout_fused(x), else x * the mask above.
torch::Tensor hashed_dropout(const torch::Tensor& x, uint64_t seed, double p);

// dx += t ⊙ m in place, dx and t contiguous and alike: the kernel when hashed_dropout_fused(dx),
// else addcmul_ with the mask above.
void hashed_dropout_accumulate(torch::Tensor& dx, const torch::Tensor& t, uint64_t seed, double p);

// A fresh 64-bit seed for one call, from the CPU's default generator (seeded by
// torch::manual_seed, as the run's seed does): reproducible, and the same for every device.
uint64_t draw_dropout_seed();

}  // namespace zili::lora
