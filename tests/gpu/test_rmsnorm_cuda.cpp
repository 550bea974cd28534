// Parity of the fused RMSNorm (kernels/rmsnorm.cu) with its plain-ops reference
// (model::rms_norm_reference under autograd), forward and backward, on fresh random inputs:
// rows 1, 7 and 1000 by C 4096, 4095 and 130, and a C whose dweight accumulator needs opt-in
// shared memory, in float32, bfloat16 and float16. Every kernel output is filled with NaN
// first, so an element the kernel does not write shows.
//
// Tolerances (../shared/design.md's method): the fused result against the reference computed
// in float32 on the same inputs (bf16/fp16 values are exact in float32): 1e-5 relative in
// float32; 1e-2 in bfloat16 and float16, where the fused op rounds twice by half an ulp at most
// (2^-8 relative each in bf16). Against the reference run in the same low precision, which
// rounds its intermediate products too, 2e-2 (a few ulps apart).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <torch/torch.h>

#include "gpu_parity.h"

#include "kernels/rmsnorm.h"
#include "model/fused.h"
#include "model/rms_norm.h"

namespace kernels = zili::kernels;
using zili::model::rms_norm_reference;

using namespace zili::gpu_tests;

namespace {

struct Shape {
  int64_t rows, cols;
};

// The backward's shapes. The forward also runs C = 1, whose dx (r g w eps / (x^2 + eps)) is all
// cancellation, rounding noise in both paths.
std::vector<Shape> shapes() {
  std::vector<Shape> out;
  for (int64_t rows : {1, 7, 1000}) {
    for (int64_t cols : {4096, 4095, 130}) out.push_back({rows, cols});
  }
  out.push_back({3, 16384});  // dweight accumulator 64 KB: above the default 48 KB
  return out;
}

// Fresh random inputs on the GPU: x [rows, C] off-centre (so mean(x^2) is not the variance),
// weight [C] around 1, dy [rows, C].
struct Inputs {
  torch::Tensor x, weight, dy;
  Inputs(Shape s, torch::Dtype dtype, uint64_t seed) {
    torch::manual_seed(seed);
    const auto opt = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kFloat32);
    x = (torch::randn({s.rows, s.cols}, opt) * 2 + 0.5).to(dtype);
    weight = (1 + 0.5 * torch::randn({s.cols}, opt)).to(dtype);
    dy = torch::randn({s.rows, s.cols}, opt).to(dtype);
  }
};

double eps_for(const Shape& s) {
  return s.rows % 2 == 0 ? 1e-6 : 1e-5;
}

// rms_norm_reference on x and weight converted to `dtype`, and its gradients for dy.
struct Reference {
  torch::Tensor y, dx, dweight;
  Reference(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& dy,
            double eps, torch::Dtype dtype) {
    const torch::Tensor x_ref = x.to(dtype).detach().requires_grad_(true);
    const torch::Tensor w_ref = weight.to(dtype).detach().requires_grad_(true);
    y = rms_norm_reference(x_ref, w_ref, eps);
    y.backward(dy.to(dtype));
    y = y.detach();
    dx = x_ref.grad();
    dweight = w_ref.grad();
  }
};

}  // namespace

TEST_CASE("fused rms_norm forward equals the reference", "[gpu][rmsnorm]") {
  uint64_t seed = 1;
  for (const Tolerance& tol : kTolerances) {
    std::vector<Shape> forward_shapes = shapes();
    forward_shapes.push_back({5, 1});
    for (const Shape& s : forward_shapes) {
      INFO("rows " << s.rows << ", C " << s.cols << ", " << tol.dtype);
      const Inputs in(s, tol.dtype, seed++);
      const double eps = eps_for(s);
      torch::Tensor y = poisoned_like(in.x);
      torch::Tensor rstd = torch::full({s.rows}, std::nan(""), in.x.options().dtype(torch::kFloat));
      kernels::rms_norm_forward_out(y, rstd, in.x, in.weight, eps);

      const torch::Tensor x32 = in.x.to(torch::kFloat32), w32 = in.weight.to(torch::kFloat32);
      CHECK(rel_err(y, rms_norm_reference(x32, w32, eps)) <= tol.rel);
      CHECK(rel_err(y, rms_norm_reference(in.x, in.weight, eps)) <= tol.rel_same);
      const torch::Tensor rstd_ref = in.x.to(torch::kFloat64).pow(2).mean(-1).add(eps).rsqrt();
      CHECK(rel_err(rstd, rstd_ref) <= 1e-5);
    }
  }
}

TEST_CASE("fused rms_norm backward equals the reference's autograd", "[gpu][rmsnorm]") {
  uint64_t seed = 100;
  for (const Tolerance& tol : kTolerances) {
    for (const Shape& s : shapes()) {
      INFO("rows " << s.rows << ", C " << s.cols << ", " << tol.dtype);
      const Inputs in(s, tol.dtype, seed++);
      const double eps = eps_for(s);
      const torch::Tensor rstd = kernels::rms_norm_forward(in.x, in.weight, eps).rstd;

      torch::Tensor dx = poisoned_like(in.x), dweight = poisoned_like(in.weight);
      kernels::rms_norm_backward_out(dx, dweight, in.dy, in.x, in.weight, rstd);
      const Reference ref32(in.x, in.weight, in.dy, eps, torch::kFloat32);
      CHECK(rel_err(dx, ref32.dx) <= tol.rel);
      CHECK(rel_err(dweight, ref32.dweight) <= tol.rel);
      const Reference ref_same(in.x, in.weight, in.dy, eps, tol.dtype);
      CHECK(rel_err(dx, ref_same.dx) <= tol.rel_same);
      CHECK(rel_err(dweight, ref_same.dweight) <= tol.rel_same);

      // Without dweight: dx alone, the same bits.
      torch::Tensor dx_only = poisoned_like(in.x), no_dweight;
      kernels::rms_norm_backward_out(dx_only, no_dweight, in.dy, in.x, in.weight, rstd);
      CHECK(torch::equal(dx_only, dx));
    }
  }
}

TEST_CASE("fused rms_norm backward is deterministic", "[gpu][rmsnorm]") {
  const Inputs in({1000, 4095}, torch::kBFloat16, 7);
  const torch::Tensor rstd = kernels::rms_norm_forward(in.x, in.weight, 1e-5).rstd;
  const kernels::RmsNormBackward first =
      kernels::rms_norm_backward(in.dy, in.x, in.weight, rstd, /*with_dweight=*/true);
  for (int i = 0; i < 3; ++i) {
    const kernels::RmsNormBackward again =
        kernels::rms_norm_backward(in.dy, in.x, in.weight, rstd, /*with_dweight=*/true);
    CHECK(torch::equal(again.dx, first.dx));
    CHECK(torch::equal(again.dweight, first.dweight));
  }
}

TEST_CASE("model::rms_norm takes the fused path under autograd on CUDA", "[gpu][rmsnorm]") {
  REQUIRE(zili::model::fused_kernels_built());
  for (const Tolerance& tol : kTolerances) {
    INFO(tol.dtype);
    torch::manual_seed(11);
    const auto opt = torch::TensorOptions().device(torch::kCUDA);
    // x [2, 9, 130] non-contiguous (a transpose), weight [130] float32 (cast to x's dtype).
    const torch::Tensor x_base = (torch::randn({2, 130, 9}, opt) + 0.3).to(tol.dtype);
    const torch::Tensor weight_base = 1 + 0.5 * torch::randn({130}, opt);
    const torch::Tensor dy = torch::randn({2, 9, 130}, opt).to(tol.dtype);

    const torch::Tensor x = x_base.transpose(1, 2).requires_grad_(true);
    const torch::Tensor weight = weight_base.clone().requires_grad_(true);
    REQUIRE(zili::model::use_fused_kernels(x));
    const torch::Tensor y = zili::model::rms_norm(x, weight, 1e-5);
    y.backward(dy);
    CHECK(torch::equal(y, zili::model::rms_norm_fused(x, weight, 1e-5)));
    CHECK(weight.grad().scalar_type() == torch::kFloat32);

    // The weight the fused path multiplied by: rounded to x's dtype.
    const Reference ref32(x.detach(), weight_base.to(tol.dtype), dy, 1e-5, torch::kFloat32);
    CHECK(rel_err(y, ref32.y) <= tol.rel);
    CHECK(rel_err(x.grad(), ref32.dx) <= tol.rel);
    CHECK(rel_err(weight.grad(), ref32.dweight) <= tol.rel);

    // Switched off (--no-fused): the reference, bit for bit.
    zili::model::set_fused_kernels_enabled(false);
    CHECK_FALSE(zili::model::use_fused_kernels(x));
    CHECK(
        torch::equal(zili::model::rms_norm(x, weight, 1e-5), rms_norm_reference(x, weight, 1e-5)));
    zili::model::set_fused_kernels_enabled(true);
  }
  // float64 has no kernel: the reference on the GPU.
  const torch::Tensor x64 =
      torch::randn({3, 130}, torch::dtype(torch::kFloat64).device(torch::kCUDA));
  const torch::Tensor w64 = torch::randn({130}, x64.options());
  CHECK(torch::equal(zili::model::rms_norm(x64, w64, 1e-5), rms_norm_reference(x64, w64, 1e-5)));
}

TEST_CASE("fused rms_norm rejects bad tensors with expected and actual", "[gpu][rmsnorm]") {
  const Inputs in({4, 130}, torch::kFloat32, 3);
  using Catch::Contains;
  CHECK_THROWS_WITH(kernels::rms_norm_forward(in.x.cpu(), in.weight, 1e-5),
                    Contains("x expected on a CUDA device, got cpu"));
  CHECK_THROWS_WITH(kernels::rms_norm_forward(in.x.to(torch::kFloat64), in.weight, 1e-5),
                    Contains("x expected float32, bfloat16 or float16, got Double"));
  CHECK_THROWS_WITH(kernels::rms_norm_forward(in.x, in.weight.narrow(0, 0, 129), 1e-5),
                    Contains("weight expected [130], got [129]"));
  CHECK_THROWS_WITH(kernels::rms_norm_forward(in.x, in.weight.to(torch::kBFloat16), 1e-5),
                    Contains("weight expected Float, got BFloat16"));
  CHECK_THROWS_WITH(kernels::rms_norm_forward(in.x.t(), in.weight.narrow(0, 0, 4), 1e-5),
                    Contains("x expected contiguous"));
  const torch::Tensor rstd = kernels::rms_norm_forward(in.x, in.weight, 1e-5).rstd;
  CHECK_THROWS_WITH(kernels::rms_norm_backward(in.dy.narrow(0, 0, 3), in.x, in.weight, rstd, true),
                    Contains("dy expected [4, 130], got [3, 130]"));
}
