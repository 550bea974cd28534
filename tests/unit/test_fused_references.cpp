// The CPU side of the fused RoPE and SwiGLU ops: on the CPU the dispatch (model::rope,
// model::swiglu) is the reference bit for bit and leaves its inputs alone, and the formulas the
// CUDA kernels compute (kernels/rope.cu, kernels/swiglu.cu), written here in plain ops, equal
// the references and their autograd gradients in float64. The kernels themselves are compared
// with the references on a GPU (tests/gpu/test_rope_cuda.cpp, test_swiglu_cuda.cpp).
#include <catch2/catch.hpp>

#include <utility>

#include <torch/torch.h>

#include "model/config.h"
#include "model/fused.h"
#include "model/rope.h"
#include "model/swiglu.h"
#include "rel_err.h"

using namespace zili::model;
using Catch::Contains;

using zili::test::rel_err;

namespace {

std::pair<torch::Tensor, torch::Tensor> halves(const torch::Tensor& t) {
  const int64_t half = t.size(-1) / 2;
  return {t.narrow(-1, 0, half), t.narrow(-1, half, half)};
}

// rope_kernel's arithmetic for x [B, heads, T, D], cos/sin [B, T, D]: per pair,
// [y1, y2] = M [x1, x2] with M = [[c1, -s1], [s2, c2]], or M^T [x1, x2] when `transposed`.
torch::Tensor kernel_rope(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin, bool transposed) {
  const auto [x1, x2] = halves(x);
  const auto [c1, c2] = halves(cos.unsqueeze(1));
  const auto [s1, s2] = halves(sin.unsqueeze(1));
  if (transposed) return torch::cat({c1 * x1 + s2 * x2, c2 * x2 - s1 * x1}, -1);
  return torch::cat({c1 * x1 - s1 * x2, c2 * x2 + s2 * x1}, -1);
}

// Angles as the model makes them: llama3-scaled frequencies at random positions, [B, T, D].
std::pair<torch::Tensor, torch::Tensor> llama3_cos_sin(int64_t B, int64_t T, int64_t D,
                                                       c10::ScalarType dtype) {
  ModelConfig c;
  c.head_dim = D;
  c.rope_theta = 500000.0;
  c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 64};
  return Rope(c).cos_sin(torch::randint(0, 5000, {B, T}, torch::kInt64), dtype);
}

}  // namespace

TEST_CASE("on the CPU model::rope is apply_rope bit for bit and leaves x as it was") {
  torch::manual_seed(1);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat64}) {
    INFO(dtype);
    const auto [cos, sin] =
        llama3_cos_sin(2, 7, 16, dtype == torch::kFloat64 ? dtype : torch::kFloat32);
    // q as the model makes it: a transposed view of [B, T, H, D].
    const torch::Tensor proj =
        torch::randn({2, 7, 3 * 16}, torch::kFloat64).to(dtype).requires_grad_(true);
    const torch::Tensor x = proj.view({2, 7, 3, 16}).transpose(1, 2);
    const torch::Tensor x_before = x.detach().clone();
    const torch::Tensor y = rope(x, cos, sin);
    CHECK(torch::equal(y, apply_rope(x, cos, sin)));
    CHECK(torch::equal(x.detach(), x_before));
    const torch::Tensor dy = torch::randn({2, 3, 7, 16}, torch::kFloat64).to(dtype);
    y.backward(dy);
    const torch::Tensor proj_ref = proj.detach().clone().requires_grad_(true);
    apply_rope(proj_ref.view({2, 7, 3, 16}).transpose(1, 2), cos, sin).backward(dy);
    CHECK(torch::equal(proj.grad(), proj_ref.grad()));
  }
}

TEST_CASE("on the CPU model::swiglu is torch::silu(gate) * up bit for bit") {
  torch::manual_seed(2);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat64}) {
    INFO(dtype);
    const torch::Tensor gate = (3 * torch::randn({2, 5, 11})).to(dtype).requires_grad_(true);
    const torch::Tensor up = torch::randn({2, 5, 11}).to(dtype).requires_grad_(true);
    const torch::Tensor h = swiglu(gate, up);
    CHECK(torch::equal(h, torch::silu(gate) * up));
    CHECK(torch::equal(swiglu_reference(gate, up), torch::silu(gate) * up));

    const torch::Tensor dh = torch::randn({2, 5, 11}).to(dtype);
    h.backward(dh);
    const torch::Tensor gate_ref = gate.detach().clone().requires_grad_(true);
    const torch::Tensor up_ref = up.detach().clone().requires_grad_(true);
    (torch::silu(gate_ref) * up_ref).backward(dh);
    CHECK(torch::equal(gate.grad(), gate_ref.grad()));
    CHECK(torch::equal(up.grad(), up_ref.grad()));
  }
}

TEST_CASE("the rope kernel's formulas equal apply_rope and its gradient in float64") {
  torch::manual_seed(3);
  const auto f64 = torch::kFloat64;
  const torch::Tensor x = torch::randn({2, 3, 5, 8}, f64).requires_grad_(true);
  const torch::Tensor dy = torch::randn({2, 3, 5, 8}, f64);
  // Angles whose halves differ (the kernel reads both), and the model's (equal halves).
  const torch::Tensor angles = 10 * torch::rand({2, 5, 8}, f64) - 5;
  const auto [cos_model, sin_model] = llama3_cos_sin(2, 5, 8, f64);
  for (const auto& [cos, sin] :
       {std::pair{angles.cos(), angles.sin()}, std::pair{cos_model, sin_model}}) {
    x.mutable_grad() = torch::Tensor();
    const torch::Tensor y = apply_rope(x, cos, sin);
    y.backward(dy);
    CHECK(rel_err(kernel_rope(x.detach(), cos, sin, false), y.detach()) < 1e-14);
    // dL/dx = M^T dL/dy.
    CHECK(rel_err(kernel_rope(dy, cos, sin, true), x.grad()) < 1e-14);
  }
  // With equal halves M is a rotation: M^T undoes it.
  const torch::Tensor rotated = kernel_rope(x.detach(), cos_model, sin_model, false);
  CHECK(rel_err(kernel_rope(rotated, cos_model, sin_model, true), x.detach()) < 1e-14);
}

TEST_CASE("the swiglu kernel's gradient formulas equal autograd in float64") {
  torch::manual_seed(4);
  const auto f64 = torch::kFloat64;
  const torch::Tensor gate = (4 * torch::randn({3, 7, 11}, f64)).requires_grad_(true);
  const torch::Tensor up = torch::randn({3, 7, 11}, f64).requires_grad_(true);
  const torch::Tensor dh = torch::randn({3, 7, 11}, f64);
  swiglu_reference(gate, up).backward(dh);

  // s = sigmoid(g): dL/dg = d u s (1 + g (1 - s)), dL/du = d g s.
  const torch::Tensor g = gate.detach(), u = up.detach();
  const torch::Tensor s = 1 / (1 + torch::exp(-g));
  CHECK(rel_err(dh * u * s * (1 + g * (1 - s)), gate.grad()) < 1e-14);
  CHECK(rel_err(dh * g * s, up.grad()) < 1e-14);
  CHECK(rel_err(g / (1 + torch::exp(-g)) * u, swiglu_reference(g, u)) < 1e-14);
}

TEST_CASE("the fused paths refuse CPU tensors, or say the build has no kernels") {
  const torch::Tensor x = torch::randn({1, 2, 3, 4});
  const torch::Tensor angles = torch::randn({1, 3, 4});
  const torch::Tensor gate = torch::randn({3, 4}), up = torch::randn({3, 4});
  if (fused_kernels_built()) {
    CHECK_THROWS_WITH(rope_fused(x, angles.cos(), angles.sin()),
                      Contains("x expected on a CUDA device, got cpu"));
    CHECK_THROWS_WITH(swiglu_fused(gate, up), Contains("gate expected on a CUDA device, got cpu"));
  } else {
    CHECK_THROWS_WITH(rope_fused(x, angles.cos(), angles.sin()),
                      Contains("this build has no CUDA kernels"));
    CHECK_THROWS_WITH(swiglu_fused(gate, up), Contains("this build has no CUDA kernels"));
  }
}
