// Fused SwiGLU forward and backward on CUDA, in three layers: the __global__ kernels, launchers
// that take the stream, and wrappers that check the tensors and pick the element type. Both
// kernels are one grid-stride loop over the elements: each reads its inputs once and writes
// its outputs once, which is all the memory traffic these ops need.
#include "kernels/swiglu.h"

#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime.h>


#include "kernels/element_type.cuh"
#include "kernels/elementwise.cuh"

namespace zili::kernels {
namespace {

// --- forward ------------------------------------------------------------------------------
// SwiGLU (Shazeer, 2020, "GLU Variants Improve Transformer"), the MLP of Llama:
//   h = silu(g) * u,   silu(g) = g * sigmoid(g) = g / (1 + exp(-g))
// in float32 as torch.silu computes it, rounded once to T. gate, up, h [n].
template <typename T>
__global__ void swiglu_forward_kernel(const T* __restrict__ gate, const T* __restrict__ up,
                                      T* __restrict__ h, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const float g = static_cast<float>(gate[i]);
    h[i] = static_cast<T>(g / (1.f + expf(-g)) * static_cast<float>(up[i]));
  }
}

template <typename T>
void launch_swiglu_forward(const T* gate, const T* up, T* h, int64_t n, cudaStream_t stream) {
  swiglu_forward_kernel<T>
      <<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(gate, up, h, n);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// --- backward -----------------------------------------------------------------------------
// With s = sigmoid(g), s' = s (1 - s), and d = dL/dh:
//   dsilu/dg = s + g s (1 - s) = s (1 + g (1 - s))
//   dL/du = d silu(g)                 = d g s
//   dL/dg = d u dsilu/dg              = d u s (1 + g (1 - s))
// (torch's silu_backward uses the same form). Only gate and up are saved by the forward, not
// silu(g): s is recomputed here, one exp per element, in a kernel bound by memory anyway.
// dh, gate, up [n]; dgate, dup [n], or null to skip that output.
template <typename T>
__global__ void swiglu_backward_kernel(const T* __restrict__ dh, const T* __restrict__ gate,
                                       const T* __restrict__ up, T* __restrict__ dgate,
                                       T* __restrict__ dup, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const float d = static_cast<float>(dh[i]), g = static_cast<float>(gate[i]);
    const float s = 1.f / (1.f + expf(-g));
    if (dgate != nullptr) {
      dgate[i] = static_cast<T>(d * static_cast<float>(up[i]) * s * (1.f + g * (1.f - s)));
    }
    if (dup != nullptr) dup[i] = static_cast<T>(d * g * s);
  }
}

template <typename T>
void launch_swiglu_backward(const T* dh, const T* gate, const T* up, T* dgate, T* dup, int64_t n,
                            cudaStream_t stream) {
  swiglu_backward_kernel<T>
      <<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(dh, gate, up, dgate, dup, n);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

void swiglu_forward_out(at::Tensor& h, const at::Tensor& gate, const at::Tensor& up) {
  constexpr const char* op = "swiglu_forward";
  check_elementwise_first(op, "gate", gate);
  check_elementwise_like(op, "up", up, "gate", gate);
  check_elementwise_like(op, "h", h, "gate", gate);
  check_apart(op, "h", h, "gate", gate);
  check_apart(op, "h", h, "up", up);
  const int64_t n = gate.numel();
  if (n == 0) return;

  const c10::cuda::CUDAGuard device_guard(gate.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  with_element_type(op, gate.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    launch_swiglu_forward<T>(gate.data_ptr<T>(), up.data_ptr<T>(), h.data_ptr<T>(), n, stream);
  });
}

at::Tensor swiglu_forward(const at::Tensor& gate, const at::Tensor& up) {
  check_elementwise_first("swiglu_forward", "gate", gate);
  at::Tensor h = at::empty(gate.sizes(), gate.options());
  swiglu_forward_out(h, gate, up);
  return h;
}

void swiglu_backward_out(at::Tensor& dgate, at::Tensor& dup, const at::Tensor& dh,
                         const at::Tensor& gate, const at::Tensor& up) {
  constexpr const char* op = "swiglu_backward";
  check_elementwise_first(op, "gate", gate);
  check_elementwise_like(op, "up", up, "gate", gate);
  check_elementwise_like(op, "dh", dh, "gate", gate);
  TORCH_CHECK(dgate.defined() || dup.defined(), op,
              ": expected dgate, dup or both to compute, got neither");
  const auto check_output = [&](const char* name, const at::Tensor& out) {
    if (!out.defined()) return;  // not wanted
    check_elementwise_like(op, name, out, "gate", gate);
    check_apart(op, name, out, "dh", dh);
    check_apart(op, name, out, "gate", gate);
    check_apart(op, name, out, "up", up);
  };
  check_output("dgate", dgate);
  check_output("dup", dup);
  if (dgate.defined() && dup.defined()) check_apart(op, "dgate", dgate, "dup", dup);
  const int64_t n = gate.numel();
  if (n == 0) return;

  const c10::cuda::CUDAGuard device_guard(gate.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  with_element_type(op, gate.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    launch_swiglu_backward<T>(dh.data_ptr<T>(), gate.data_ptr<T>(), up.data_ptr<T>(),
                              dgate.defined() ? dgate.data_ptr<T>() : nullptr,
                              dup.defined() ? dup.data_ptr<T>() : nullptr, n, stream);
  });
}

SwigluBackward swiglu_backward(const at::Tensor& dh, const at::Tensor& gate, const at::Tensor& up,
                               bool with_dgate, bool with_dup) {
  check_elementwise_first("swiglu_backward", "gate", gate);
  SwigluBackward out{with_dgate ? at::empty(gate.sizes(), gate.options()) : at::Tensor(),
                     with_dup ? at::empty(gate.sizes(), gate.options()) : at::Tensor()};
  swiglu_backward_out(out.dgate, out.dup, dh, gate, up);
  return out;
}

}  // namespace zili::kernels
