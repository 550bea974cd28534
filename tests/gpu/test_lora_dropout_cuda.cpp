// Parity of the hashed LoRA dropout kernels (kernels/lora_dropout.cu) with their plain-ops
// reference (lora::hashed_dropout_mask), forward and the backward's accumulation, on fresh
// random inputs from one element to more than the grid holds threads, in float32, bfloat16 and
// float16; then lora_linear_with_dropout on CUDA, which takes the hashed path, against
// lora_linear_reference with the same mask, values and gradients; then the checks' messages.
// The forward's output is filled with NaN first, so an element the kernel does not write shows.
//
// Which elements are dropped must agree exactly (the same integer hash on both sides); the kept
// values are x * (1 / (1 - p)) rounded once on both sides, so they agree to the tolerances of
// gpu_parity.h (in fact to the bit, but the test does not lean on the order of an addcmul).
#include <catch2/catch.hpp>

#include <vector>

#include <torch/torch.h>

#include "gpu_parity.h"

#include "kernels/lora_dropout.h"
#include "lora/hashed_dropout.h"
#include "lora/lora_linear.h"
#include "model/fused.h"

namespace kernels = zili::kernels;
using zili::lora::hashed_dropout_mask;

using namespace zili::gpu_tests;

namespace {

constexpr uint64_t kSeed = 0x0123456789abcdefULL;

torch::Tensor randn_cuda(const std::vector<int64_t>& sizes, torch::Dtype dtype) {
  return torch::randn(sizes, torch::TensorOptions().device(torch::kCUDA)).to(dtype);
}

}  // namespace

TEST_CASE("lora_dropout drops the reference's elements and scales the rest", "[gpu][dropout]") {
  torch::manual_seed(1);
  for (const Tolerance& tol : kTolerances) {
    for (const auto& sizes : elementwise_test_shapes()) {
      for (const double p : {0.05, 0.5}) {
        INFO("sizes " << at::IntArrayRef(sizes) << ", " << tol.dtype << ", p " << p);
        const torch::Tensor x = randn_cuda(sizes, tol.dtype);
        torch::Tensor out = poisoned_like(x);
        kernels::lora_dropout_out(out, x, kSeed, p);
        const torch::Tensor mask = hashed_dropout_mask(x.sizes(), kSeed, p, x.options());
        // Zeros exactly where the mask drops (or where x is 0: fp16 rounds |x| < 2^-25 to it).
        CHECK(torch::equal(out.eq(0), mask.eq(0) | x.eq(0)));
        CHECK(rel_err(out, x * mask) <= tol.rel_same);
        CHECK(rel_err(out, x.to(torch::kFloat32) * mask.to(torch::kFloat32)) <= tol.rel);
        CHECK(torch::equal(kernels::lora_dropout(x, kSeed, p), out));
      }
    }
  }
}

TEST_CASE("lora_dropout_accumulate adds t through the mask and leaves dropped elements",
          "[gpu][dropout]") {
  torch::manual_seed(2);
  for (const Tolerance& tol : kTolerances) {
    for (const auto& sizes : elementwise_test_shapes()) {
      INFO("sizes " << at::IntArrayRef(sizes) << ", " << tol.dtype);
      const double p = 0.3;
      const torch::Tensor dx0 = randn_cuda(sizes, tol.dtype), t = randn_cuda(sizes, tol.dtype);
      torch::Tensor dx = dx0.clone();
      kernels::lora_dropout_accumulate(dx, t, kSeed, p);
      const torch::Tensor mask = hashed_dropout_mask(dx.sizes(), kSeed, p, dx.options());
      const torch::Tensor dropped = mask.eq(0);
      CHECK(torch::equal(dx.masked_select(dropped), dx0.masked_select(dropped)));
      const torch::Tensor mask32 = mask.to(torch::kFloat32);
      CHECK(rel_err(dx, dx0.to(torch::kFloat32) + t.to(torch::kFloat32) * mask32) <= tol.rel);
    }
  }
}

TEST_CASE("lora_linear_with_dropout on CUDA: hashed mask, reference values and gradients",
          "[gpu][dropout]") {
  REQUIRE(zili::model::fused_kernels_built());
  constexpr int64_t in = 96, out = 80, rank = 8;
  constexpr double p = 0.25, scale = 2.0;
  for (const Tolerance& tol : kTolerances) {
    INFO(tol.dtype);
    torch::manual_seed(3);
    const auto cuda = torch::TensorOptions().device(torch::kCUDA);
    const torch::Tensor x0 = torch::randn({2, 17, in}, cuda).to(tol.dtype);
    const torch::Tensor weight = (0.1 * torch::randn({out, in}, cuda)).to(tol.dtype);
    const torch::Tensor a0 = 0.1 * torch::randn({rank, in}, cuda);
    const torch::Tensor b0 = 0.1 * torch::randn({out, rank}, cuda);
    const torch::Tensor dy = torch::randn({2, 17, out}, cuda).to(tol.dtype);
    REQUIRE(zili::lora::hashed_dropout_fused(x0));

    // The call draws its seed from the CPU generator: the same generator state gives the seed.
    torch::manual_seed(44);
    const uint64_t seed = zili::lora::draw_dropout_seed();
    torch::manual_seed(44);
    const torch::Tensor x = x0.clone().requires_grad_(true);
    const torch::Tensor a = a0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
    const torch::Tensor y = zili::lora::lora_linear_with_dropout(x, weight, {}, a, b, scale, p);
    y.backward(dy);

    // The reference in float32 with the mask the seed gives.
    const torch::Tensor x_ref = x0.to(torch::kFloat32).requires_grad_(true);
    const torch::Tensor a_ref = a0.clone().requires_grad_(true),
                        b_ref = b0.clone().requires_grad_(true);
    const torch::Tensor mask = hashed_dropout_mask(x0.sizes(), seed, p, x_ref.options());
    const torch::Tensor y_ref = zili::lora::lora_linear_reference(x_ref, weight.to(torch::kFloat32),
                                                                  {}, a_ref, b_ref, scale, mask);
    y_ref.backward(dy.to(torch::kFloat32));
    // The products' rounding in bf16/fp16 (inputs in, out ~100 wide) sets their tolerance;
    // a wrong mask, or none, misses by far more (a quarter of the LoRA path's terms).
    const double rel = tol.dtype == torch::kFloat32 ? 1e-5 : 3e-2;
    CHECK(rel_err(y, y_ref) <= rel);
    CHECK(rel_err(x.grad(), x_ref.grad()) <= rel);
    CHECK(rel_err(a.grad(), a_ref.grad()) <= rel);
    CHECK(rel_err(b.grad(), b_ref.grad()) <= rel);

    // --no-fused: the bernoulli_ mask instead, another draw, so another output: a quarter of
    // the inputs dropped elsewhere moves the LoRA path by ~0.4 of max |y| here.
    zili::model::set_fused_kernels_enabled(false);
    REQUIRE_FALSE(zili::lora::hashed_dropout_fused(x0));
    torch::manual_seed(44);
    const torch::Tensor y_unfused =
        zili::lora::lora_linear_with_dropout(x0, weight, {}, a0, b0, scale, p);
    zili::model::set_fused_kernels_enabled(true);
    CHECK(rel_err(y_unfused, y_ref) > 0.1);
  }
}

TEST_CASE("lora_dropout rejects bad tensors with expected and actual", "[gpu][dropout]") {
  const torch::Tensor x = randn_cuda({4, 130}, torch::kFloat32);
  using Catch::Contains;
  CHECK_THROWS_WITH(kernels::lora_dropout(x.cpu(), kSeed, 0.1),
                    Contains("x expected on a CUDA device, got cpu"));
  CHECK_THROWS_WITH(kernels::lora_dropout(x.to(torch::kFloat64), kSeed, 0.1),
                    Contains("x expected float32, bfloat16 or float16, got Double"));
  CHECK_THROWS_WITH(kernels::lora_dropout(x.t(), kSeed, 0.1), Contains("x expected contiguous"));
  CHECK_THROWS_WITH(kernels::lora_dropout(x, kSeed, 1.0), Contains("p expected in [0, 1), got 1"));
  torch::Tensor dx = x.clone();
  CHECK_THROWS_WITH(
      kernels::lora_dropout_accumulate(dx, x.narrow(1, 0, 129).contiguous(), kSeed, 0.1),
      Contains("t expected [4, 130] (dx), got [4, 129]"));
  CHECK_THROWS_WITH(kernels::lora_dropout_accumulate(dx, dx, kSeed, 0.1),
                    Contains("t expected apart from dx"));
  torch::Tensor out = x.clone();
  CHECK_THROWS_WITH(kernels::lora_dropout_out(out, out, kSeed, 0.1),
                    Contains("out expected apart from x"));
}
