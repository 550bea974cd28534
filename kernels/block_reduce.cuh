// Sums and maxima across a warp and a thread block, shared by the fused kernels
// (kernels/*.cu). The order of the additions is fixed by the block's shape, so a sum is the
// same, bit for bit, on every run.
#pragma once

#include <math_constants.h>

namespace zili::kernels {

// The sum of v over the 32 lanes of a warp, returned to every lane (xor butterfly: the two
// partners of each step add the same two numbers, so all lanes end with the same bits).
__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// The sum of v over the block, returned to every thread. blockDim.x must be a multiple of 32,
// and every thread of the block must call it (it synchronises the block twice).
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float warp_sums[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_sum(v);
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  float total = 0.f;
  for (int i = 0; i < static_cast<int>(blockDim.x / 32); ++i) total += warp_sums[i];
  __syncthreads();  // warp_sums is free again for the next call
  return total;
}

// The maximum of v over the 32 lanes of a warp, returned to every lane.
__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  }
  return v;
}

// The maximum of v over the block, returned to every thread; as block_sum: blockDim.x a
// multiple of 32, called by every thread. fmaxf drops a NaN operand (the caller keeps NaNs
// out, as target_logprobs' online_add does).
__device__ __forceinline__ float block_max(float v) {
  __shared__ float warp_maxes[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_max(v);
  if (lane == 0) warp_maxes[warp] = v;
  __syncthreads();
  float out = -CUDART_INF_F;
  for (int i = 0; i < static_cast<int>(blockDim.x / 32); ++i) out = fmaxf(out, warp_maxes[i]);
  __syncthreads();  // warp_maxes is free again
  return out;
}

}  // namespace zili::kernels
