// Fused target log-probs forward (lse and lp per row) and backward (dz over z) on CUDA, for
// the chunk loop of model::target_logprobs. Each op in three layers: the __global__ kernel, a
// launcher that takes the stream, and a wrapper that checks the tensors. One block per row of
// z [n, V]; its threads stride over the row, four floats at a time where the row is 16-byte
// aligned (a row of odd V starts anywhere: a few scalar elements before the first 16-byte
// boundary and after the last whole float4).
#include "kernels/target_logprobs.h"

#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime.h>
#include <math_constants.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "kernels/block_reduce.cuh"

namespace zili::kernels {
namespace {

// Threads per block for rows of V elements: about 8 elements a thread, whole warps, 32 to 1024
// (V = 32000 and 128256 get 1024, V = 1000 gets 128).
int threads_for(int64_t cols) {
  const int64_t warps = (cols + 8 * 32 - 1) / (8 * 32);
  return static_cast<int>(std::clamp<int64_t>(warps, 1, 32) * 32);
}

// Elements of `row` before its first 16-byte boundary (0 to 3, at most `cols`): scalar loads
// up to there, float4 loads after. A float pointer is 4-byte aligned, so the distance is a
// whole number of floats.
__device__ __forceinline__ int64_t head_elements(const float* row, int64_t cols) {
  const auto misaligned = static_cast<int64_t>(reinterpret_cast<uintptr_t>(row) % 16);  // bytes
  const int64_t head = misaligned == 0 ? 0 : (16 - misaligned) / 4;
  return head < cols ? head : cols;
}

// --- forward ------------------------------------------------------------------------------
// Online logsumexp (Milakov and Gimelshein, 2018, "Online normalizer calculation for
// softmax"): a thread keeps (m, s) with Σ_seen exp x = s exp(m), m the largest x seen. Adding x:
//   x > m:  s <- s exp(m - x) + 1,  m <- x          (the old sum rescaled to the new maximum)
//   else:   s <- s + exp(x - m)
// A -inf x adds nothing (skipped: with m still -inf, x - m would be NaN). A NaN x goes to the
// second branch and makes s NaN, so lse and lp come out NaN as logsumexp's do; m never holds a
// NaN (a comparison with NaN is false). A +inf logit gives NaN (logsumexp gives inf); logits
// of finite weights and hidden states are finite.
__device__ __forceinline__ void online_add(float& m, float& s, float x) {
  if (x > m) {
    s = s * expf(m - x) + 1.f;
    m = x;
  } else if (x != -CUDART_INF_F) {
    s += expf(x - m);
  }
}

// Per row: the threads' (m, s) are combined as M = max m over the block, then
// S = Σ_threads s exp(m - M) (block_sum's fixed order: the same bits every run), and
//   lse = M + log S,   lp = z[t] - lse
// A thread with s = 0 (nothing seen, or only -inf) adds 0, also when M is -inf (a row of -inf
// gives lse = -inf, as logsumexp does); a NaN s stays NaN. z [rows, V]; targets, lse, lp
// [rows]. Grid: one block per row.
__global__ void __launch_bounds__(1024)
    target_logprobs_forward_kernel(const float* __restrict__ z, const int64_t* __restrict__ targets,
                                   float* __restrict__ lse, float* __restrict__ lp, int64_t cols) {
  const int64_t row = blockIdx.x;
  const float* z_row = z + row * cols;
  const int64_t head = head_elements(z_row, cols);
  const int64_t vecs = (cols - head) / 4;  // whole float4s after the head
  const auto* z_vec = reinterpret_cast<const float4*>(z_row + head);

  float m = -CUDART_INF_F, s = 0.f;
  for (int64_t j = threadIdx.x; j < head; j += blockDim.x) online_add(m, s, z_row[j]);
  for (int64_t k = threadIdx.x; k < vecs; k += blockDim.x) {
    const float4 q = z_vec[k];
    online_add(m, s, q.x);
    online_add(m, s, q.y);
    online_add(m, s, q.z);
    online_add(m, s, q.w);
  }
  for (int64_t j = head + 4 * vecs + threadIdx.x; j < cols; j += blockDim.x) {
    online_add(m, s, z_row[j]);
  }

  const float row_max = block_max(m);
  const float row_sum = block_sum(s == 0.f ? 0.f : s * expf(m - row_max));
  if (threadIdx.x == 0) {
    const float l = row_max + logf(row_sum);
    const int64_t t = targets[row];
    lse[row] = l;
    lp[row] = (t >= 0 && t < cols) ? z_row[t] - l : CUDART_NAN_F;  // never read out of bounds
  }
}

void launch_target_logprobs_forward(const float* z, const int64_t* targets, float* lse, float* lp,
                                    int64_t rows, int64_t cols, cudaStream_t stream) {
  target_logprobs_forward_kernel<<<static_cast<unsigned>(rows), threads_for(cols), 0, stream>>>(
      z, targets, lse, lp, cols);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// --- backward -----------------------------------------------------------------------------
// lp_n = z_{n,t_n} - lse_n with lse_n = log Σ_v exp z_nv, and g_n = dL/dlp_n:
//   dlse_n / dz_nv = exp z_nv / Σ_u exp z_nu = exp(z_nv - lse_n) =: p_nv   (softmax)
//   dlp_n / dz_nv  = [v = t_n] - p_nv
//   dL/dz_nv       = g_n ([v = t_n] - p_nv)
// Rows are independent and each element needs only its own z, so the row is read and
// written once, in place. A target outside [0, V) matches no v: the row gets -g p alone.
// Rounding: for v != t_n this is -(g p), the same roundings as the plain ops'
// exp(z - lse) * (-g); at v = t_n it is g (1 - p) (1 - p exact for p >= 1/2), where the
// plain ops add g to -g p.
__device__ __forceinline__ float dlogit(float z, int64_t v, int64_t t, float l, float g) {
  return g * ((v == t ? 1.f : 0.f) - expf(z - l));
}

// z [rows, V] in place; lse, targets, g [rows]. Grid: one block per row.
__global__ void __launch_bounds__(1024)
    target_logprobs_backward_kernel(float* __restrict__ z, const float* __restrict__ lse,
                                    const int64_t* __restrict__ targets,
                                    const float* __restrict__ g, int64_t cols) {
  const int64_t row = blockIdx.x;
  float* z_row = z + row * cols;
  const float l = lse[row], g_row = g[row];
  const int64_t t = targets[row];
  const int64_t head = head_elements(z_row, cols);
  const int64_t vecs = (cols - head) / 4;
  auto* z_vec = reinterpret_cast<float4*>(z_row + head);

  for (int64_t j = threadIdx.x; j < head; j += blockDim.x) {
    z_row[j] = dlogit(z_row[j], j, t, l, g_row);
  }
  for (int64_t k = threadIdx.x; k < vecs; k += blockDim.x) {
    float4 q = z_vec[k];
    const int64_t v = head + 4 * k;  // the vocabulary index of q.x
    q.x = dlogit(q.x, v, t, l, g_row);
    q.y = dlogit(q.y, v + 1, t, l, g_row);
    q.z = dlogit(q.z, v + 2, t, l, g_row);
    q.w = dlogit(q.w, v + 3, t, l, g_row);
    z_vec[k] = q;
  }
  for (int64_t j = head + 4 * vecs + threadIdx.x; j < cols; j += blockDim.x) {
    z_row[j] = dlogit(z_row[j], j, t, l, g_row);
  }
}

void launch_target_logprobs_backward(float* z, const float* lse, const int64_t* targets,
                                     const float* g, int64_t rows, int64_t cols,
                                     cudaStream_t stream) {
  target_logprobs_backward_kernel<<<static_cast<unsigned>(rows), threads_for(cols), 0, stream>>>(
      z, lse, targets, g, cols);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// --- wrappers -----------------------------------------------------------------------------
// z [n, V]: float32 on CUDA, contiguous, V > 0, n within a grid's x dimension. Returns n.
int64_t check_z(const char* op, const at::Tensor& z) {
  TORCH_CHECK(z.defined(), op, ": z is undefined");
  TORCH_CHECK(z.is_cuda(), op, ": z expected on a CUDA device, got ", z.device());
  TORCH_CHECK(z.scalar_type() == at::kFloat, op, ": z expected float32, got ", z.scalar_type());
  TORCH_CHECK(z.dim() == 2 && z.size(1) > 0, op, ": z expected [n, V] with V > 0, got ", z.sizes());
  TORCH_CHECK(z.is_contiguous(), op, ": z expected contiguous, got strides ", z.strides());
  TORCH_CHECK(z.size(0) <= INT_MAX, op, ": at most ", INT_MAX, " rows, got ", z.size(0));
  return z.size(0);
}

// `t` expected [rows] of this dtype, on z's device, contiguous.
void check_row_vector(const char* op, const char* name, const at::Tensor& t, int64_t rows,
                      at::ScalarType dtype, const at::Tensor& z) {
  TORCH_CHECK(t.defined(), op, ": ", name, " is undefined");
  TORCH_CHECK(t.device() == z.device(), op, ": ", name, " expected on ", z.device(), " (z), got ",
              t.device());
  TORCH_CHECK(t.scalar_type() == dtype, op, ": ", name, " expected ", dtype, ", got ",
              t.scalar_type());
  TORCH_CHECK(t.dim() == 1 && t.size(0) == rows, op, ": ", name, " expected [", rows, "], got ",
              t.sizes());
  TORCH_CHECK(t.is_contiguous(), op, ": ", name, " expected contiguous, got strides ", t.strides());
}

}  // namespace

void target_logprobs_forward_out(at::Tensor& lse, at::Tensor& lp, const at::Tensor& z,
                                 const at::Tensor& targets) {
  constexpr const char* op = "target_logprobs_forward";
  const int64_t rows = check_z(op, z);
  check_row_vector(op, "targets", targets, rows, at::kLong, z);
  check_row_vector(op, "lse", lse, rows, at::kFloat, z);
  check_row_vector(op, "lp", lp, rows, at::kFloat, z);
  if (rows == 0) return;

  const c10::cuda::CUDAGuard device_guard(z.device());
  launch_target_logprobs_forward(z.data_ptr<float>(), targets.data_ptr<int64_t>(),
                                 lse.data_ptr<float>(), lp.data_ptr<float>(), rows, z.size(1),
                                 at::cuda::getCurrentCUDAStream());
}

TargetLogprobsForward target_logprobs_forward(const at::Tensor& z, const at::Tensor& targets) {
  const int64_t rows = check_z("target_logprobs_forward", z);
  TargetLogprobsForward out{at::empty({rows}, z.options()), at::empty({rows}, z.options())};
  target_logprobs_forward_out(out.lse, out.lp, z, targets);
  return out;
}

void target_logprobs_backward_(at::Tensor& z, const at::Tensor& lse, const at::Tensor& targets,
                               const at::Tensor& g) {
  constexpr const char* op = "target_logprobs_backward";
  const int64_t rows = check_z(op, z);
  check_row_vector(op, "lse", lse, rows, at::kFloat, z);
  check_row_vector(op, "targets", targets, rows, at::kLong, z);
  check_row_vector(op, "g", g, rows, at::kFloat, z);
  if (rows == 0) return;

  const c10::cuda::CUDAGuard device_guard(z.device());
  launch_target_logprobs_backward(z.data_ptr<float>(), lse.data_ptr<float>(),
                                  targets.data_ptr<int64_t>(), g.data_ptr<float>(), rows, z.size(1),
                                  at::cuda::getCurrentCUDAStream());
}

}  // namespace zili::kernels
