// Fused RoPE forward and backward on CUDA, in three layers: the __global__ kernel, a launcher
// that takes the stream, and wrappers that check the tensors and pick the element type. One
// block per token (b, t); its threads own (pair j, head h) cells, so each thread loads its
// pair's cos and sin once and uses them for every head it visits.
#include "kernels/rope.h"

#include <ATen/MemoryOverlap.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "kernels/element_type.cuh"

namespace zili::kernels {
namespace {

// Element strides of a [B, heads, T, D] tensor along B, heads and T; D's is 1.
struct HeadStrides {
  int64_t b, h, t;
};

HeadStrides strides_of(const at::Tensor& t) {
  return {t.stride(0), t.stride(1), t.stride(2)};
}

// --- the kernel ---------------------------------------------------------------------------
// Forward (Su et al., 2021, RoFormer; the rotate_half layout of transformers' Llama): per head
// and token, for each pair j < D/2 of x1 = x[j] and x2 = x[j + D/2], with c1 = cos[j],
// c2 = cos[j + D/2], s1 = sin[j], s2 = sin[j + D/2],
//   y = x * cos + rotate_half(x) * sin,  rotate_half([x1, x2]) = [-x2, x1]
//   y1 = c1 x1 - s1 x2
//   y2 = s2 x1 + c2 x2,   that is [y1, y2] = M [x1, x2] with M = [[c1, -s1], [s2, c2]].
// Backward: y is linear in x, so with g = dL/dy,
//   dL/dx = M^T g:   dx1 = c1 g1 + s2 g2
//                    dx2 = -s1 g1 + c2 g2
// With equal halves (c1 = c2 = cos a, s1 = s2 = sin a, as model::Rope makes them) M is the
// rotation R(a), and M^T = R(-a) = R(a)^-1: the gradient is rotated back by the same angle.
// cos and sin get no gradient (the positions are not trained).
//
// in, out [B, heads, T, D] with the given strides; out may be in itself (each thread reads its
// two elements before it writes them, and no two threads share an element), hence no
// __restrict__ on them. cos, sin [B, T, D] contiguous. Grid: one block per token, row = b T + t.
// Block: x over the pairs j, y over the heads.
template <typename T, bool kTransposed>
__global__ void rope_kernel(const T* in, T* out, HeadStrides in_strides, HeadStrides out_strides,
                            const float* __restrict__ cos, const float* __restrict__ sin,
                            int64_t tokens, int heads, int half) {
  const int64_t row = blockIdx.x;
  const int64_t b = row / tokens, t = row % tokens;
  const T* in_token = in + b * in_strides.b + t * in_strides.t;
  T* out_token = out + b * out_strides.b + t * out_strides.t;
  const float* cos_row = cos + row * 2 * half;
  const float* sin_row = sin + row * 2 * half;

  for (int j = threadIdx.x; j < half; j += blockDim.x) {
    const float c1 = cos_row[j], c2 = cos_row[j + half];
    const float s1 = sin_row[j], s2 = sin_row[j + half];
    for (int h = threadIdx.y; h < heads; h += blockDim.y) {
      const T* x = in_token + h * in_strides.h;
      T* y = out_token + h * out_strides.h;
      const float x1 = static_cast<float>(x[j]), x2 = static_cast<float>(x[j + half]);
      if constexpr (kTransposed) {
        y[j] = static_cast<T>(c1 * x1 + s2 * x2);
        y[j + half] = static_cast<T>(c2 * x2 - s1 * x1);
      } else {
        y[j] = static_cast<T>(c1 * x1 - s1 * x2);
        y[j + half] = static_cast<T>(c2 * x2 + s2 * x1);
      }
    }
  }
}

// Block shape for `heads` heads of D/2 = `half` pairs: x whole warps over the pairs, up to 128
// (D up to 256 in one pass: D = 128 is 64 pairs, two warps), y over the heads so that a block
// has at most 256 threads and no row of y without a head.
dim3 block_for(int heads, int half) {
  const int x = std::min((half + 31) / 32 * 32, 128);
  const int y = std::clamp(256 / x, 1, heads);
  return dim3(static_cast<unsigned>(x), static_cast<unsigned>(y));
}

// `rows` = B * T blocks of `tokens` = T tokens each batch row.
template <typename T, bool kTransposed>
void launch_rope(const T* in, T* out, HeadStrides in_strides, HeadStrides out_strides,
                 const float* cos, const float* sin, int64_t rows, int64_t tokens, int heads,
                 int half, cudaStream_t stream) {
  rope_kernel<T, kTransposed><<<static_cast<unsigned>(rows), block_for(heads, half), 0, stream>>>(
      in, out, in_strides, out_strides, cos, sin, tokens, heads, half);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// --- wrappers -----------------------------------------------------------------------------
// `x` (called `name`) [B, heads, T, D]: on CUDA, a kernel dtype, D even and > 0 with stride 1;
// B * T at most INT_MAX (one block each, grid.x's limit is 2^31 - 1) and heads * D at most
// INT_MAX (the kernel's int indices).
void check_heads(const char* op, const char* name, const at::Tensor& x) {
  TORCH_CHECK(x.defined(), op, ": ", name, " is undefined");
  TORCH_CHECK(x.is_cuda(), op, ": ", name, " expected on a CUDA device, got ", x.device());
  TORCH_CHECK(is_kernel_dtype(x.scalar_type()), op, ": ", name,
              " expected float32, bfloat16 or float16, got ", x.scalar_type());
  TORCH_CHECK(x.dim() == 4, op, ": ", name, " expected [B, heads, T, D], got ", x.sizes());
  const int64_t D = x.size(3);
  TORCH_CHECK(D > 0 && D % 2 == 0, op, ": ", name, " expected an even head dim D > 0, got D = ", D);
  TORCH_CHECK(x.stride(3) == 1, op, ": ", name, " expected stride 1 along D, got strides ",
              x.strides());
  TORCH_CHECK(x.size(0) * x.size(2) <= INT_MAX, op, ": at most ", INT_MAX, " tokens B * T, got ",
              x.size(0) * x.size(2));
  TORCH_CHECK(x.size(1) * D <= INT_MAX, op, ": at most ", INT_MAX, " elements heads * D, got ",
              x.size(1) * D);
}

// cos or sin: [B, T, D] of x [B, heads, T, D], float32, contiguous, on x's device.
void check_angles(const char* op, const char* name, const at::Tensor& t, const at::Tensor& x) {
  TORCH_CHECK(t.defined(), op, ": ", name, " is undefined");
  TORCH_CHECK(t.device() == x.device(), op, ": ", name, " expected on ", x.device(), ", got ",
              t.device());
  TORCH_CHECK(t.scalar_type() == at::kFloat, op, ": ", name, " expected Float, got ",
              t.scalar_type());
  const std::vector<int64_t> expected{x.size(0), x.size(2), x.size(3)};
  TORCH_CHECK(t.sizes() == at::IntArrayRef(expected), op, ": ", name,
              " expected [B, T, D] = ", at::IntArrayRef(expected), ", got ", t.sizes());
  TORCH_CHECK(t.is_contiguous(), op, ": ", name, " expected contiguous, got strides ", t.strides());
}

// `out` for `in` (checked): like it in sizes, dtype and device, stride 1 along D, no element
// stored twice, and either `in` itself (same start and strides: in place) or apart from it.
void check_out(const char* op, const char* out_name, const at::Tensor& out, const char* in_name,
               const at::Tensor& in) {
  TORCH_CHECK(out.defined(), op, ": ", out_name, " is undefined");
  TORCH_CHECK(out.device() == in.device(), op, ": ", out_name, " expected on ", in.device(),
              ", got ", out.device());
  TORCH_CHECK(out.scalar_type() == in.scalar_type(), op, ": ", out_name, " expected ",
              in.scalar_type(), ", got ", out.scalar_type());
  TORCH_CHECK(out.sizes() == in.sizes(), op, ": ", out_name, " expected ", in.sizes(), ", got ",
              out.sizes());
  TORCH_CHECK(out.stride(3) == 1, op, ": ", out_name, " expected stride 1 along D, got strides ",
              out.strides());
  TORCH_CHECK(at::has_internal_overlap(out) != at::MemOverlap::Yes, op, ": ", out_name,
              " expected each element in its own memory, got strides ", out.strides());
  const bool in_place = out.data_ptr() == in.data_ptr() && out.strides() == in.strides();
  TORCH_CHECK(in_place || !out.is_alias_of(in), op, ": ", out_name, " expected to be ", in_name,
              " itself (in place) or apart from its memory, got a tensor sharing its storage");
}

// out = M in (forward) or M^T in (kTransposed: backward) for the checked tensors.
template <bool kTransposed>
void run_rope(at::Tensor& out, const at::Tensor& in, const at::Tensor& cos, const at::Tensor& sin) {
  if (in.numel() == 0) return;
  const int64_t rows = in.size(0) * in.size(2), tokens = in.size(2);
  const int heads = static_cast<int>(in.size(1)), half = static_cast<int>(in.size(3) / 2);
  const c10::cuda::CUDAGuard device_guard(in.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  with_element_type("rope", in.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    launch_rope<T, kTransposed>(in.data_ptr<T>(), out.data_ptr<T>(), strides_of(in),
                                strides_of(out), cos.data_ptr<float>(), sin.data_ptr<float>(), rows,
                                tokens, heads, half, stream);
  });
}

}  // namespace

void rope_forward_out(at::Tensor& y, const at::Tensor& x, const at::Tensor& cos,
                      const at::Tensor& sin) {
  constexpr const char* op = "rope_forward";
  check_heads(op, "x", x);
  check_angles(op, "cos", cos, x);
  check_angles(op, "sin", sin, x);
  check_out(op, "y", y, "x", x);
  run_rope</*kTransposed=*/false>(y, x, cos, sin);
}

at::Tensor rope_forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  check_heads("rope_forward", "x", x);
  at::Tensor y = at::empty_like(x);
  rope_forward_out(y, x, cos, sin);
  return y;
}

void rope_backward_out(at::Tensor& dx, const at::Tensor& dy, const at::Tensor& cos,
                       const at::Tensor& sin) {
  constexpr const char* op = "rope_backward";
  check_heads(op, "dy", dy);
  check_angles(op, "cos", cos, dy);
  check_angles(op, "sin", sin, dy);
  check_out(op, "dx", dx, "dy", dy);
  run_rope</*kTransposed=*/true>(dx, dy, cos, sin);
}

at::Tensor rope_backward(const at::Tensor& dy, const at::Tensor& cos, const at::Tensor& sin) {
  check_heads("rope_backward", "dy", dy);
  at::Tensor dx = at::empty_like(dy);
  rope_backward_out(dx, dy, cos, sin);
  return dx;
}

}  // namespace zili::kernels
