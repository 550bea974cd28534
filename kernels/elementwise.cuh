// What the elementwise kernels (swiglu.cu, lora_dropout.cu) share on the host: the grid of their
// grid-stride loops, and the checks their wrappers make on the tensors, with expected-vs-actual
// messages. Every tensor is of the same sizes as the first one checked, contiguous, on CUDA.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/util/Exception.h>

#include <algorithm>

#include "kernels/element_type.cuh"

namespace zili::kernels {

inline constexpr int kElementwiseThreads = 256;

// Blocks for a grid-stride loop over n > 0 elements: one element a thread, capped at 32 blocks
// of kElementwiseThreads per SM (four times what an SM holds at once: every SM busy, a large
// tensor loops). Call with the tensor's device current.
inline unsigned elementwise_blocks(int64_t n) {
  const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  return static_cast<unsigned>(
      std::min<int64_t>((n + kElementwiseThreads - 1) / kElementwiseThreads, 32 * sms));
}

// The first tensor of an op, `name`: defined, on CUDA, a kernel dtype, contiguous.
inline void check_elementwise_first(const char* op, const char* name, const at::Tensor& t) {
  TORCH_CHECK(t.defined(), op, ": ", name, " is undefined");
  TORCH_CHECK(t.is_cuda(), op, ": ", name, " expected on a CUDA device, got ", t.device());
  TORCH_CHECK(is_kernel_dtype(t.scalar_type()), op, ": ", name,
              " expected float32, bfloat16 or float16, got ", t.scalar_type());
  TORCH_CHECK(t.is_contiguous(), op, ": ", name, " expected contiguous, got strides ", t.strides());
}

// `t` like the first tensor: its sizes, dtype and device, contiguous.
inline void check_elementwise_like(const char* op, const char* name, const at::Tensor& t,
                                   const char* first_name, const at::Tensor& first) {
  TORCH_CHECK(t.defined(), op, ": ", name, " is undefined");
  TORCH_CHECK(t.device() == first.device(), op, ": ", name, " expected on ", first.device(), " (",
              first_name, "), got ", t.device());
  TORCH_CHECK(t.scalar_type() == first.scalar_type(), op, ": ", name, " expected ",
              first.scalar_type(), " (", first_name, "), got ", t.scalar_type());
  TORCH_CHECK(t.sizes() == first.sizes(), op, ": ", name, " expected ", first.sizes(), " (",
              first_name, "), got ", t.sizes());
  TORCH_CHECK(t.is_contiguous(), op, ": ", name, " expected contiguous, got strides ", t.strides());
}

// An output shares no memory with an input (the kernels' pointers are __restrict__).
inline void check_apart(const char* op, const char* out_name, const at::Tensor& out,
                        const char* in_name, const at::Tensor& in) {
  TORCH_CHECK(!out.is_alias_of(in), op, ": ", out_name, " expected apart from ", in_name,
              ", got a tensor sharing its memory");
}

}  // namespace zili::kernels
