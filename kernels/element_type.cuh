// The element types the fused elementwise kernels take for their inputs and outputs (float32,
// bfloat16, float16; the math inside is float32), and the call that picks the one of a tensor.
// Host code, shared by the kernels/*.cu of ops with bf16/fp16/fp32 I/O.
#pragma once

#include <c10/core/ScalarType.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Exception.h>
#include <c10/util/Half.h>

namespace zili::kernels {

// True for the dtypes that have a kernel.
inline bool is_kernel_dtype(at::ScalarType dtype) {
  return dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf;
}

// Calls f(T{}) with T the element type of `dtype`: float, c10::BFloat16 or c10::Half. Any other
// dtype is a bug of the caller's checks; `op` names the op in the message.
template <typename F>
void with_element_type(const char* op, at::ScalarType dtype, F&& f) {
  switch (dtype) {
    case at::kFloat:
      return f(float{});
    case at::kBFloat16:
      return f(c10::BFloat16{});
    case at::kHalf:
      return f(c10::Half{});
    default:
      TORCH_CHECK(false, op, ": no kernel for ", dtype);
  }
}

}  // namespace zili::kernels
