// Sums and maxima across a warp and a thread block, shared by the fused kernels
// (kernels/*.cu). The order of the additions is fixed by the block's shape, so a sum is the
// same, bit for bit, on every run.
#pragma once

#include <math_constants.h>

namespace zili::kernels {

// The two reductions: combine(a, b) and the value that changes nothing.
struct SumOp {
  static __device__ __forceinline__ float combine(float a, float b) { return a + b; }
  static __device__ __forceinline__ float identity() { return 0.f; }
};
// fmaxf drops a NaN operand (the caller keeps NaNs out, as target_logprobs' online_add does).
struct MaxOp {
  static __device__ __forceinline__ float combine(float a, float b) { return fmaxf(a, b); }
  static __device__ __forceinline__ float identity() { return -CUDART_INF_F; }
};

// Op over the 32 lanes of a warp, returned to every lane (xor butterfly: the two partners of
// each step combine the same two numbers, so all lanes end with the same bits).
template <typename Op>
__device__ __forceinline__ float warp_reduce(float v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = Op::combine(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Op over the block, returned to every thread: each warp's result, then those in warp order.
// blockDim.x must be a multiple of 32, and every thread of the block must call it (it
// synchronises the block twice). Each Op has its own 32 floats of static shared memory.
template <typename Op>
__device__ __forceinline__ float block_reduce(float v) {
  __shared__ float warp_results[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_reduce<Op>(v);
  if (lane == 0) warp_results[warp] = v;
  __syncthreads();
  float out = Op::identity();
  for (int i = 0; i < static_cast<int>(blockDim.x / 32); ++i)
    out = Op::combine(out, warp_results[i]);
  __syncthreads();  // warp_results is free again for the next call
  return out;
}

__device__ __forceinline__ float block_sum(float v) {
  return block_reduce<SumOp>(v);
}
__device__ __forceinline__ float block_max(float v) {
  return block_reduce<MaxOp>(v);
}

}  // namespace zili::kernels
