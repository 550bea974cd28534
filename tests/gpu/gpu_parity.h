// What the GPU parity tests (tests/gpu/test_*_cuda.cpp) share: the tolerances of
// ../shared/design.md's method per dtype, the relative error they are checked with, and the
// NaN fill that shows an element a kernel did not write.
#pragma once

#include <catch2/catch.hpp>

#include <limits>
#include <vector>

#include <torch/torch.h>

namespace zili::gpu_tests {

struct Tolerance {
  torch::Dtype dtype;
  double rel;       // against the float32 reference
  double rel_same;  // against the reference in `dtype`
};
// fp32: 1e-5 relative; bf16 and fp16: 1e-2 against the float32 reference (the fused op rounds
// once or twice by half an ulp, 2^-8 relative in bf16), 2e-2 against the reference run in the
// same low precision (which rounds its intermediate products too: a few ulps apart).
inline constexpr Tolerance kTolerances[] = {
    {torch::kFloat32, 1e-5, 1e-5}, {torch::kBFloat16, 1e-2, 2e-2}, {torch::kFloat16, 1e-2, 2e-2}};

// max |a - b| / max |b|, in float64; infinite when a holds a NaN or inf (an unwritten element).
inline double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.defined());
  REQUIRE(b.defined());
  REQUIRE(a.sizes() == b.sizes());
  const torch::Tensor a64 = a.detach().to(torch::kCPU, torch::kFloat64);
  const torch::Tensor b64 = b.detach().to(torch::kCPU, torch::kFloat64);
  if (!torch::isfinite(a64).all().item<bool>()) return std::numeric_limits<double>::infinity();
  const double denom = b64.abs().max().item<double>();
  REQUIRE(denom > 0);
  return (a64 - b64).abs().max().item<double>() / denom;
}

// The sizes the elementwise kernels (swiglu, lora_dropout) are checked at: from one element to
// more than the grid holds threads, so that threads loop.
inline std::vector<std::vector<int64_t>> elementwise_test_shapes() {
  return {
      {1},             // one element
      {7, 11},         // a partial block
      {2, 9, 1376},    // [B, T, F]
      {3, 1000, 1001}  // 3M elements: more than 32 blocks per SM of 256 threads, so they loop
  };
}

// NaN everywhere, laid out like t (full_like keeps a dense tensor's strides).
inline torch::Tensor poisoned_like(const torch::Tensor& t) {
  return torch::full_like(t, std::numeric_limits<double>::quiet_NaN());
}

}  // namespace zili::gpu_tests
