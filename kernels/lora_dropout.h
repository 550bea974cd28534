// LoRA dropout on CUDA without a mask tensor: whether element i is kept is a hash of (seed, i),
// so the forward applies it while reading x and the backward applies the same mask again from
// the seed alone. The reference in plain libtorch ops is zili::lora::hashed_dropout_mask
// (src/lora/hashed_dropout.h).
//
// The mask, for element i of the flat (contiguous) tensor and a 64-bit seed:
//   mix(v)  = lowbias32 (C. Wellons, "Prospecting for hash functions", 2018):
//             v ^= v >> 16; v *= 0x7feb352d; v ^= v >> 15; v *= 0x846ca68b; v ^= v >> 16
//             (uint32, products mod 2^32)
//   h_i     = mix(mix(lo(i) ^ lo(seed)) ^ hi(seed) ^ hi(i)),  lo / hi the low / high 32 bits
//   keep_i  = (h_i >> 8) >= round(p 2^24)              (probability 1 - p, to 2^-25)
//   m_i     = keep_i ? 1 / (1 - p) : 0,  1 / (1 - p) rounded to the tensor's dtype
// x, out, dx, t: the same sizes, contiguous, on one CUDA device, float32, bfloat16 or float16
// (all the same); products in float32, each result rounded once. 0 <= p < 1. A dropped element
// is 0 (forward) or left alone (backward) even where x or t is inf or NaN, which x * 0 would
// turn into NaN: the one difference from the reference.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace zili::kernels {

// out = x ⊙ m, every element written. out must not share memory with x.
void lora_dropout_out(at::Tensor& out, const at::Tensor& x, uint64_t seed, double p);

// The same into a new tensor.
at::Tensor lora_dropout(const at::Tensor& x, uint64_t seed, double p);

// dx += t ⊙ m in place: the backward's share of dX through the dropped input. dx must not
// share memory with t.
void lora_dropout_accumulate(at::Tensor& dx, const at::Tensor& t, uint64_t seed, double p);

}  // namespace zili::kernels
