// LoRA dropout by hash on CUDA, in three layers: the __global__ kernels, launchers that take the
// stream, and wrappers that check the tensors and pick the element type. Both kernels are one
// grid-stride loop over the elements; the mask is computed where it is used (a few integer
// operations per element) and never stored.
#include "kernels/lora_dropout.h"

#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/element_type.cuh"
#include "kernels/elementwise.cuh"

namespace zili::kernels {
namespace {

// lowbias32: a 32-bit integer hash whose output bits each flip with probability ~1/2 when any
// input bit flips (C. Wellons, 2018).
__device__ __forceinline__ uint32_t mix32(uint32_t v) {
  v ^= v >> 16;
  v *= 0x7feb352dU;
  v ^= v >> 15;
  v *= 0x846ca68bU;
  v ^= v >> 16;
  return v;
}

// keep_i of the header's formula: the top 24 bits of h_i against the threshold round(p 2^24).
__device__ __forceinline__ bool keep(uint64_t seed, uint64_t i, uint32_t threshold) {
  const uint32_t h = mix32(mix32(static_cast<uint32_t>(i) ^ static_cast<uint32_t>(seed)) ^
                           static_cast<uint32_t>(seed >> 32) ^ static_cast<uint32_t>(i >> 32));
  return (h >> 8) >= threshold;
}

// --- forward: out = x ⊙ m ------------------------------------------------------------------
// x, out [n]; scale = 1 / (1 - p) already rounded to T, so x * scale rounds once as the
// reference's x * m does.
template <typename T>
__global__ void lora_dropout_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t n,
                                    uint64_t seed, uint32_t threshold, float scale) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    out[i] = keep(seed, static_cast<uint64_t>(i), threshold)
                 ? static_cast<T>(static_cast<float>(x[i]) * scale)
                 : static_cast<T>(0.f);
  }
}

template <typename T>
void launch_lora_dropout(const T* x, T* out, int64_t n, uint64_t seed, uint32_t threshold,
                         float scale, cudaStream_t stream) {
  lora_dropout_kernel<T><<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      x, out, n, seed, threshold, scale);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// --- backward: dx += t ⊙ m -----------------------------------------------------------------
// With x_drop = x ⊙ m, dL/dx_i = dL/dx_drop_i m_i: the LoRA path's gradient t = s (gB A) comes
// back through the mask. dx holds the base path's g W already; a dropped element is left as
// it is (neither read nor written).
template <typename T>
__global__ void lora_dropout_accumulate_kernel(T* __restrict__ dx, const T* __restrict__ t,
                                               int64_t n, uint64_t seed, uint32_t threshold,
                                               float scale) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    if (keep(seed, static_cast<uint64_t>(i), threshold)) {
      dx[i] = static_cast<T>(static_cast<float>(dx[i]) + static_cast<float>(t[i]) * scale);
    }
  }
}

template <typename T>
void launch_lora_dropout_accumulate(T* dx, const T* t, int64_t n, uint64_t seed, uint32_t threshold,
                                    float scale, cudaStream_t stream) {
  lora_dropout_accumulate_kernel<T>
      <<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(dx, t, n, seed, threshold, scale);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// --- wrappers -----------------------------------------------------------------------------
// p in [0, 1).
void check_p(const char* op, double p) {
  TORCH_CHECK(p >= 0 && p < 1, op, ": p expected in [0, 1), got ", p);
}

// round(p 2^24): an element is kept when the top 24 bits of its hash reach this.
uint32_t keep_threshold(double p) {
  return static_cast<uint32_t>(std::llround(p * 16777216.0));
}

// 1 / (1 - p) rounded to T, as the reference's mask holds it, then widened to float.
template <typename T>
float rounded_scale(double p) {
  return static_cast<float>(static_cast<T>(static_cast<float>(1.0 / (1.0 - p))));
}

}  // namespace

void lora_dropout_out(at::Tensor& out, const at::Tensor& x, uint64_t seed, double p) {
  constexpr const char* op = "lora_dropout";
  check_p(op, p);
  check_elementwise_first(op, "x", x);
  check_elementwise_like(op, "out", out, "x", x);
  check_apart(op, "out", out, "x", x);
  const int64_t n = x.numel();
  if (n == 0) return;

  const c10::cuda::CUDAGuard device_guard(x.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  with_element_type(op, x.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    launch_lora_dropout<T>(x.data_ptr<T>(), out.data_ptr<T>(), n, seed, keep_threshold(p),
                           rounded_scale<T>(p), stream);
  });
}

at::Tensor lora_dropout(const at::Tensor& x, uint64_t seed, double p) {
  check_elementwise_first("lora_dropout", "x", x);
  at::Tensor out = at::empty(x.sizes(), x.options());
  lora_dropout_out(out, x, seed, p);
  return out;
}

void lora_dropout_accumulate(at::Tensor& dx, const at::Tensor& t, uint64_t seed, double p) {
  constexpr const char* op = "lora_dropout_accumulate";
  check_p(op, p);
  check_elementwise_first(op, "dx", dx);
  check_elementwise_like(op, "t", t, "dx", dx);
  check_apart(op, "t", t, "dx", dx);
  const int64_t n = dx.numel();
  if (n == 0) return;

  const c10::cuda::CUDAGuard device_guard(dx.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  with_element_type(op, dx.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    launch_lora_dropout_accumulate<T>(dx.data_ptr<T>(), t.data_ptr<T>(), n, seed, keep_threshold(p),
                                      rounded_scale<T>(p), stream);
  });
}

}  // namespace zili::kernels
