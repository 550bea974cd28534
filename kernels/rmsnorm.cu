// Fused RMSNorm forward and backward on CUDA. Each op in three layers: the __global__ kernel,
// a launcher that takes the stream, and a wrapper that checks the tensors and picks the
// element type. One block per row in the forward; the backward's blocks stride over rows and
// keep their share of dWeight in shared memory, summed over blocks by a second small kernel.
#include "kernels/rmsnorm.h"

#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>

#include "kernels/block_reduce.cuh"
#include "kernels/element_type.cuh"

namespace zili::kernels {
namespace {

// block_sum's static shared memory (32 floats), which counts against the same per-block limits
// as the backward's dynamic dWeight accumulator.
constexpr size_t kBlockSumSharedBytes = 32 * sizeof(float);

// Threads per block for rows of C elements: about 8 elements a thread, whole warps, 32 to 1024.
int threads_for(int64_t cols) {
  const int64_t warps = (cols + 8 * 32 - 1) / (8 * 32);
  return static_cast<int>(std::clamp<int64_t>(warps, 1, 32) * 32);
}

// --- forward ------------------------------------------------------------------------------
// Root Mean Square Layer Normalization (Zhang and Sennrich, 2019), as transformers'
// LlamaRMSNorm computes it: per row, in float32,
//   rstd = 1 / sqrt(mean_i x_i^2 + eps),   n_i = x_i * rstd,   y_i = w_i * T(n_i)
// where T() rounds to the I/O dtype (transformers casts the normalised row back to the input
// dtype before the weight product; a no-op in float32).
// x, y [rows, C]; weight [C]; rstd [rows]. Grid: one block per row.
template <typename T>
__global__ void __launch_bounds__(1024)
    rms_norm_forward_kernel(const T* __restrict__ x, const T* __restrict__ weight,
                            T* __restrict__ y, float* __restrict__ rstd, int64_t cols, float eps) {
  const int64_t row = blockIdx.x;
  const T* x_row = x + row * cols;
  T* y_row = y + row * cols;

  float sum_sq = 0.f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const float v = static_cast<float>(x_row[j]);
    sum_sq += v * v;
  }
  const float r = rsqrtf(block_sum(sum_sq) / static_cast<float>(cols) + eps);
  if (threadIdx.x == 0) rstd[row] = r;

  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const T normed = static_cast<T>(static_cast<float>(x_row[j]) * r);
    y_row[j] = static_cast<T>(static_cast<float>(weight[j]) * static_cast<float>(normed));
  }
}

template <typename T>
void launch_rms_norm_forward(const T* x, const T* weight, T* y, float* rstd, int64_t rows,
                             int64_t cols, float eps, cudaStream_t stream) {
  rms_norm_forward_kernel<T><<<static_cast<unsigned>(rows), threads_for(cols), 0, stream>>>(
      x, weight, y, rstd, cols, eps);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// --- backward -----------------------------------------------------------------------------
// Per row, with r = rstd = (mean_i x_i^2 + eps)^(-1/2), n_i = x_i r, y_i = w_i n_i and
// g_i = dL/dy_i:
//   dL/dn_i = g_i w_i =: dn_i
//   dr/dx_j = -1/2 (mean_i x_i^2 + eps)^(-3/2) * 2 x_j / C = -r^3 x_j / C
//   dL/dx_j = sum_i dn_i (delta_ij r + x_i dr/dx_j)
//           = r dn_j - (r^3 x_j / C) sum_i dn_i x_i
//           = r (dn_j - n_j * c),   c = (1/C) sum_i dn_i n_i = r s / C,  s = sum_i g_i w_i x_i
//   dL/dw_i = sum over rows of g_i T(n_i)   (T(n) is what the forward multiplied w by)
// So a row is read twice: once for the sum s, once to write dx and add g T(n) to dWeight.
// Each block adds its rows' g T(n) into a float32 accumulator [C] in shared memory (each
// thread owns the same columns in every row, so no atomics), then writes it as its row of
// partial [gridDim.x, C]; sum_partials_kernel adds the blocks' rows in a fixed order.
// dy, x, dx [rows, C]; weight [C]; rstd [rows]; partial [gridDim.x, C] or null (no dWeight).
template <typename T>
__global__ void __launch_bounds__(1024)
    rms_norm_backward_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                             const T* __restrict__ weight, const float* __restrict__ rstd,
                             T* __restrict__ dx, float* __restrict__ partial, int64_t rows,
                             int64_t cols) {
  extern __shared__ float dweight_acc[];  // [C] when partial is given
  if (partial != nullptr) {
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) dweight_acc[j] = 0.f;
  }

  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* dy_row = dy + row * cols;
    const T* x_row = x + row * cols;
    T* dx_row = dx + row * cols;
    const float r = rstd[row];

    float s = 0.f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      s += static_cast<float>(dy_row[j]) * static_cast<float>(weight[j]) *
           static_cast<float>(x_row[j]);
    }
    const float c = block_sum(s) * r / static_cast<float>(cols);

    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float g = static_cast<float>(dy_row[j]);
      const float n = static_cast<float>(x_row[j]) * r;
      dx_row[j] = static_cast<T>(r * (g * static_cast<float>(weight[j]) - n * c));
      if (partial != nullptr) dweight_acc[j] += g * static_cast<float>(static_cast<T>(n));
    }
  }

  if (partial != nullptr) {
    float* partial_row = partial + static_cast<int64_t>(blockIdx.x) * cols;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) partial_row[j] = dweight_acc[j];
  }
}

// dweight [C] = sum over p of partial [p, C], p = 0, 1, ... in order. One thread per column.
template <typename T>
__global__ void sum_partials_kernel(const float* __restrict__ partial, T* __restrict__ dweight,
                                    int64_t parts, int64_t cols) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  float sum = 0.f;
  for (int64_t p = 0; p < parts; ++p) sum += partial[p * cols + j];
  dweight[j] = static_cast<T>(sum);
}

// `parts` blocks share the rows; with dweight, partial is a float32 scratch [parts, C].
template <typename T>
void launch_rms_norm_backward(const T* dy, const T* x, const T* weight, const float* rstd, T* dx,
                              T* dweight, float* partial, int64_t rows, int64_t cols, int parts,
                              cudaStream_t stream) {
  const size_t shared_bytes = dweight != nullptr ? cols * sizeof(float) : 0;
  if (shared_bytes + kBlockSumSharedBytes > 48 * 1024) {  // above 48 KB a kernel must opt in
    C10_CUDA_CHECK(cudaFuncSetAttribute(rms_norm_backward_kernel<T>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(shared_bytes)));
  }
  rms_norm_backward_kernel<T><<<parts, threads_for(cols), shared_bytes, stream>>>(
      dy, x, weight, rstd, dx, dweight != nullptr ? partial : nullptr, rows, cols);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  if (dweight != nullptr) {
    constexpr int kThreads = 256;
    const auto blocks = static_cast<unsigned>((cols + kThreads - 1) / kThreads);
    sum_partials_kernel<T><<<blocks, kThreads, 0, stream>>>(partial, dweight, parts, cols);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
}

// --- wrappers -----------------------------------------------------------------------------
// x [..., C]: on CUDA, a kernel dtype, contiguous, C > 0. Returns C.
int64_t check_x(const char* op, const at::Tensor& x) {
  TORCH_CHECK(x.defined(), op, ": x is undefined");
  TORCH_CHECK(x.is_cuda(), op, ": x expected on a CUDA device, got ", x.device());
  const auto dtype = x.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf, op,
              ": x expected float32, bfloat16 or float16, got ", dtype);
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) > 0, op, ": x expected [..., C] with C > 0, got ",
              x.sizes());
  TORCH_CHECK(x.is_contiguous(), op, ": x expected contiguous, got strides ", x.strides());
  TORCH_CHECK(x.numel() / x.size(-1) <= INT_MAX, op, ": at most ", INT_MAX, " rows, got ",
              x.numel() / x.size(-1));
  return x.size(-1);
}

// `t` expected with these sizes and dtype, on x's device, contiguous.
void check_like(const char* op, const char* name, const at::Tensor& t, at::IntArrayRef sizes,
                at::ScalarType dtype, const at::Tensor& x) {
  TORCH_CHECK(t.defined(), op, ": ", name, " is undefined");
  TORCH_CHECK(t.device() == x.device(), op, ": ", name, " expected on ", x.device(), " (x), got ",
              t.device());
  TORCH_CHECK(t.scalar_type() == dtype, op, ": ", name, " expected ", dtype, ", got ",
              t.scalar_type());
  TORCH_CHECK(t.sizes() == sizes, op, ": ", name, " expected ", sizes, ", got ", t.sizes());
  TORCH_CHECK(t.is_contiguous(), op, ": ", name, " expected contiguous, got strides ", t.strides());
}

}  // namespace

void rms_norm_forward_out(at::Tensor& y, at::Tensor& rstd, const at::Tensor& x,
                          const at::Tensor& weight, double eps) {
  constexpr const char* op = "rms_norm_forward";
  const int64_t cols = check_x(op, x), rows = x.numel() / cols;
  check_like(op, "weight", weight, {cols}, x.scalar_type(), x);
  check_like(op, "y", y, x.sizes(), x.scalar_type(), x);
  check_like(op, "rstd", rstd, {rows}, at::kFloat, x);
  if (rows == 0) return;

  const c10::cuda::CUDAGuard device_guard(x.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  with_element_type("rms_norm", x.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    launch_rms_norm_forward<T>(x.data_ptr<T>(), weight.data_ptr<T>(), y.data_ptr<T>(),
                               rstd.data_ptr<float>(), rows, cols, static_cast<float>(eps), stream);
  });
}

RmsNormForward rms_norm_forward(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const int64_t cols = check_x("rms_norm_forward", x);
  RmsNormForward out{at::empty(x.sizes(), x.options()),
                     at::empty({x.numel() / cols}, x.options().dtype(at::kFloat))};
  rms_norm_forward_out(out.y, out.rstd, x, weight, eps);
  return out;
}

void rms_norm_backward_out(at::Tensor& dx, at::Tensor& dweight, const at::Tensor& dy,
                           const at::Tensor& x, const at::Tensor& weight, const at::Tensor& rstd) {
  constexpr const char* op = "rms_norm_backward";
  const int64_t cols = check_x(op, x), rows = x.numel() / cols;
  check_like(op, "dy", dy, x.sizes(), x.scalar_type(), x);
  check_like(op, "weight", weight, {cols}, x.scalar_type(), x);
  check_like(op, "rstd", rstd, {rows}, at::kFloat, x);
  check_like(op, "dx", dx, x.sizes(), x.scalar_type(), x);
  const bool with_dweight = dweight.defined();
  if (with_dweight) check_like(op, "dweight", dweight, {cols}, x.scalar_type(), x);
  if (rows == 0) {
    if (with_dweight) dweight.zero_();
    return;
  }

  const c10::cuda::CUDAGuard device_guard(x.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const cudaDeviceProp* props = at::cuda::getCurrentDeviceProperties();
  // Two blocks per SM share the rows: enough to fill the GPU, few partial rows to add up.
  const int parts = static_cast<int>(std::min<int64_t>(rows, 2 * props->multiProcessorCount));
  at::Tensor partial;  // [parts, C] float32
  if (with_dweight) {
    const size_t shared_bytes = cols * sizeof(float) + kBlockSumSharedBytes;
    TORCH_CHECK(shared_bytes <= props->sharedMemPerBlockOptin, op,
                ": dweight needs (C + 32) * 4 bytes of shared memory per block, at most ",
                props->sharedMemPerBlockOptin, " on this GPU, got C = ", cols);
    partial = at::empty({parts, cols}, x.options().dtype(at::kFloat));
  }
  with_element_type("rms_norm", x.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    launch_rms_norm_backward<T>(
        dy.data_ptr<T>(), x.data_ptr<T>(), weight.data_ptr<T>(), rstd.data_ptr<float>(),
        dx.data_ptr<T>(), with_dweight ? dweight.data_ptr<T>() : nullptr,
        with_dweight ? partial.data_ptr<float>() : nullptr, rows, cols, parts, stream);
  });
}

RmsNormBackward rms_norm_backward(const at::Tensor& dy, const at::Tensor& x,
                                  const at::Tensor& weight, const at::Tensor& rstd,
                                  bool with_dweight) {
  check_x("rms_norm_backward", x);
  RmsNormBackward out{at::empty(x.sizes(), x.options()),
                      with_dweight ? at::empty({x.size(-1)}, x.options()) : at::Tensor()};
  rms_norm_backward_out(out.dx, out.dweight, dy, x, weight, rstd);
  return out;
}

}  // namespace zili::kernels
