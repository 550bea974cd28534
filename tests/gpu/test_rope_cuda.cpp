// Parity of the fused RoPE (kernels/rope.cu) with its plain-ops reference (model::apply_rope
// under autograd), forward and backward, on fresh random inputs: x as the model hands q and k
// over (a transposed view of [B, T, heads, D]), D from 2 to 512 (1 to 256 pairs: the block's
// loop over pairs runs once or twice, full or partial warps), odd heads and T, one token
// (decoding), llama3-scaled angles at large positions and random angles whose halves differ,
// in float32, bfloat16 and float16; then grouped-query attention (Hkv < H) under autograd, the
// dispatch, and the checks' messages. Every kernel output is filled with NaN first, so an
// element the kernel does not write shows.
//
// Tolerances as in test_rmsnorm_cuda.cpp: against the reference in float32 on the same inputs
// (bf16/fp16 values are exact in float32), 1e-5 relative in float32 and 1e-2 in bfloat16 and
// float16, where the kernel rounds once (2^-8 relative at most in bf16); against the reference
// run in the same low precision, which rounds cos, sin and every product and sum too, 2e-2.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "gpu_parity.h"

#include "kernels/rope.h"
#include "model/config.h"
#include "model/fused.h"
#include "model/rope.h"

namespace kernels = zili::kernels;
using zili::model::apply_rope;

using namespace zili::gpu_tests;

namespace {

struct Shape {
  int64_t B, T, heads, D;
};

std::vector<Shape> shapes() {
  return {
      {2, 7, 4, 64},    // 32 pairs: one warp
      {1, 7, 3, 128},   // 64 pairs: two warps, odd heads
      {3, 9, 5, 6},     // 3 pairs: a partial warp
      {2, 33, 1, 2},    // one pair, one head
      {1, 5, 2, 512},   // 256 pairs: each thread takes two
      {2, 1, 32, 128},  // one token (decoding), many heads: the block loops over them
      {4, 300, 8, 96},  // 48 pairs (two warps, one partial), 1200 blocks
  };
}

// cos, sin [B, T, D] float32 on the GPU: the model's (model::Rope with llama3-scaled
// frequencies, at random positions up to 100000), or random angles whose two halves differ.
std::pair<torch::Tensor, torch::Tensor> angles(const Shape& s, bool random_halves) {
  const auto opt = torch::TensorOptions().device(torch::kCUDA);
  if (random_halves) {
    const torch::Tensor a = 20 * torch::rand({s.B, s.T, s.D}, opt) - 10;
    return {a.cos(), a.sin()};
  }
  zili::model::ModelConfig c;
  c.head_dim = s.D;
  c.rope_theta = 500000.0;
  c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 8192};
  const torch::Tensor positions = torch::randint(0, 100000, {s.B, s.T}, opt.dtype(torch::kInt64));
  return zili::model::Rope(c).cos_sin(positions);
}

// Fresh random inputs on the GPU: x [B, heads, T, D] a transposed view of a contiguous
// [B, T, heads, D], as q and k come from their projections; dy [B, heads, T, D] contiguous.
struct Inputs {
  torch::Tensor x, dy, cos, sin;
  Inputs(const Shape& s, torch::Dtype dtype, uint64_t seed, bool random_halves) {
    torch::manual_seed(seed);
    const auto opt = torch::TensorOptions().device(torch::kCUDA);
    x = torch::randn({s.B, s.T, s.heads, s.D}, opt).to(dtype).transpose(1, 2);
    dy = torch::randn({s.B, s.heads, s.T, s.D}, opt).to(dtype);
    std::tie(cos, sin) = angles(s, random_halves);
  }
};

// apply_rope on x converted to `dtype`, and its gradient for dy.
struct Reference {
  torch::Tensor y, dx;
  Reference(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
            const torch::Tensor& dy, torch::Dtype dtype) {
    const torch::Tensor x_ref = x.to(dtype).detach().requires_grad_(true);
    y = apply_rope(x_ref, cos, sin);
    y.backward(dy.to(dtype));
    y = y.detach();
    dx = x_ref.grad();
  }
};

}  // namespace

TEST_CASE("fused rope forward equals the reference", "[gpu][rope]") {
  uint64_t seed = 1;
  for (const Tolerance& tol : kTolerances) {
    for (const Shape& s : shapes()) {
      for (bool random_halves : {false, true}) {
        INFO("B " << s.B << ", T " << s.T << ", heads " << s.heads << ", D " << s.D << ", "
                  << tol.dtype << (random_halves ? ", random angles" : ", llama3 angles"));
        const Inputs in(s, tol.dtype, seed++, random_halves);
        torch::Tensor y = poisoned_like(in.x);
        kernels::rope_forward_out(y, in.x, in.cos, in.sin);
        CHECK(rel_err(y, apply_rope(in.x.to(torch::kFloat32), in.cos, in.sin)) <= tol.rel);
        CHECK(rel_err(y, apply_rope(in.x, in.cos, in.sin)) <= tol.rel_same);

        // Into a contiguous [B, heads, T, D], into a new tensor, and in place: the same bits.
        torch::Tensor y_contiguous = poisoned_like(in.dy);
        kernels::rope_forward_out(y_contiguous, in.x, in.cos, in.sin);
        CHECK(torch::equal(y_contiguous, y));
        const torch::Tensor y_new = kernels::rope_forward(in.x, in.cos, in.sin);
        CHECK(y_new.transpose(1, 2).is_contiguous());  // laid out like x: [B, T, heads, D]
        CHECK(torch::equal(y_new, y));
        torch::Tensor x_copy = in.x.clone();
        kernels::rope_forward_out(x_copy, x_copy, in.cos, in.sin);
        CHECK(torch::equal(x_copy, y));
      }
    }
  }
}

TEST_CASE("fused rope backward equals the reference's autograd", "[gpu][rope]") {
  uint64_t seed = 100;
  for (const Tolerance& tol : kTolerances) {
    for (const Shape& s : shapes()) {
      for (bool random_halves : {false, true}) {
        INFO("B " << s.B << ", T " << s.T << ", heads " << s.heads << ", D " << s.D << ", "
                  << tol.dtype << (random_halves ? ", random angles" : ", llama3 angles"));
        const Inputs in(s, tol.dtype, seed++, random_halves);
        torch::Tensor dx = poisoned_like(in.dy);
        kernels::rope_backward_out(dx, in.dy, in.cos, in.sin);
        const Reference ref32(in.x, in.cos, in.sin, in.dy, torch::kFloat32);
        CHECK(rel_err(dx, ref32.dx) <= tol.rel);
        const Reference ref_same(in.x, in.cos, in.sin, in.dy, tol.dtype);
        CHECK(rel_err(dx, ref_same.dx) <= tol.rel_same);

        // dy laid out as [B, T, heads, D] (a transposed view), a new dx, and in place: the
        // same bits.
        const torch::Tensor dy_transposed = in.dy.transpose(1, 2).contiguous().transpose(1, 2);
        torch::Tensor dx_transposed = poisoned_like(dy_transposed);
        kernels::rope_backward_out(dx_transposed, dy_transposed, in.cos, in.sin);
        CHECK(torch::equal(dx_transposed, dx));
        CHECK(torch::equal(kernels::rope_backward(dy_transposed, in.cos, in.sin), dx));
        torch::Tensor dy_copy = in.dy.clone();
        kernels::rope_backward_out(dy_copy, dy_copy, in.cos, in.sin);
        CHECK(torch::equal(dy_copy, dx));
      }
    }
  }
}

TEST_CASE("fused rope backward undoes the forward for the model's angles", "[gpu][rope]") {
  // Equal halves make the forward a rotation, whose transpose is its inverse.
  const Inputs in({2, 7, 3, 128}, torch::kFloat32, 7, /*random_halves=*/false);
  const torch::Tensor y = kernels::rope_forward(in.x, in.cos, in.sin);
  CHECK(rel_err(kernels::rope_backward(y, in.cos, in.sin), in.x) <= 1e-5);
}

TEST_CASE("grouped-query attention with the fused rope: output and gradients", "[gpu][rope]") {
  // q [B, H, T, D] and k [B, Hkv, T, D] as AttentionImpl makes them (views of their
  // projections, Hkv < H), rotated by model::rope, through causal attention and back, fused
  // against --no-fused on the same inputs. Attention turns the rope's last-bit differences
  // into slightly larger ones: 1e-4 in float32, 5e-2 in bfloat16 and float16; a wrong head,
  // position or sign is off by order 1.
  const int64_t B = 2, T = 7, H = 6, Hkv = 2, D = 64;
  const Shape s{B, T, H, D};
  for (const Tolerance& tol : kTolerances) {
    INFO(tol.dtype);
    torch::manual_seed(21);
    const auto opt = torch::TensorOptions().device(torch::kCUDA);
    const torch::Tensor q_proj = torch::randn({B, T, H * D}, opt).to(tol.dtype);
    const torch::Tensor k_proj = torch::randn({B, T, Hkv * D}, opt).to(tol.dtype);
    const torch::Tensor v = torch::randn({B, Hkv, T, D}, opt).to(tol.dtype);
    const torch::Tensor dout = torch::randn({B, H, T, D}, opt).to(tol.dtype);
    torch::Tensor cos, sin;
    std::tie(cos, sin) = angles(s, /*random_halves=*/false);

    struct Run {
      torch::Tensor out, dq_proj, dk_proj;
    };
    const auto run = [&](bool fused) {
      zili::model::set_fused_kernels_enabled(fused);
      const torch::Tensor q_leaf = q_proj.clone().requires_grad_(true);
      const torch::Tensor k_leaf = k_proj.clone().requires_grad_(true);
      const torch::Tensor q =
          zili::model::rope(q_leaf.view({B, T, H, D}).transpose(1, 2), cos, sin);
      const torch::Tensor k =
          zili::model::rope(k_leaf.view({B, T, Hkv, D}).transpose(1, 2), cos, sin);
      const torch::Tensor out = at::scaled_dot_product_attention(
          q, k.repeat_interleave(H / Hkv, 1), v.repeat_interleave(H / Hkv, 1), std::nullopt, 0.0,
          /*is_causal=*/true, 1.0 / std::sqrt(static_cast<double>(D)));
      out.backward(dout);
      zili::model::set_fused_kernels_enabled(true);
      return Run{out.detach(), q_leaf.grad(), k_leaf.grad()};
    };
    const Run fused = run(true), reference = run(false);
    const double rel = tol.dtype == torch::kFloat32 ? 1e-4 : 5e-2;
    CHECK(rel_err(fused.out, reference.out) <= rel);
    CHECK(rel_err(fused.dq_proj, reference.dq_proj) <= rel);
    CHECK(rel_err(fused.dk_proj, reference.dk_proj) <= rel);
  }
}

TEST_CASE("model::rope takes the fused path under autograd on CUDA", "[gpu][rope]") {
  REQUIRE(zili::model::fused_kernels_built());
  const Shape s{2, 7, 3, 64};
  for (const Tolerance& tol : kTolerances) {
    INFO(tol.dtype);
    const Inputs in(s, tol.dtype, 11, /*random_halves=*/false);
    // x: q as the model makes it, a view of its projection [B, T, heads * D] (a leaf here).
    const torch::Tensor proj =
        in.x.transpose(1, 2).reshape({s.B, s.T, s.heads * s.D}).detach().requires_grad_(true);
    const torch::Tensor x = proj.view({s.B, s.T, s.heads, s.D}).transpose(1, 2);
    const torch::Tensor x_before = x.detach().clone();
    REQUIRE(zili::model::use_fused_kernels(x));
    const torch::Tensor y = zili::model::rope(x, in.cos, in.sin);
    y.backward(in.dy);
    CHECK(torch::equal(x.detach(), x_before));  // read, not written
    CHECK(y.transpose(1, 2).is_contiguous());   // laid out like x
    CHECK(torch::equal(y, zili::model::rope_fused(x, in.cos, in.sin)));

    const Reference ref32(x.detach(), in.cos, in.sin, in.dy, torch::kFloat32);
    CHECK(rel_err(y, ref32.y) <= tol.rel);
    const torch::Tensor dx = proj.grad().reshape({s.B, s.T, s.heads, s.D}).transpose(1, 2);
    CHECK(rel_err(dx, ref32.dx) <= tol.rel);

    {  // Without a graph (generation, the KV cache path): the same values.
      torch::NoGradGuard no_grad;
      CHECK(torch::equal(zili::model::rope(x, in.cos, in.sin), y.detach()));
    }

    // Switched off (--no-fused): the reference, bit for bit.
    zili::model::set_fused_kernels_enabled(false);
    CHECK_FALSE(zili::model::use_fused_kernels(x));
    CHECK(torch::equal(zili::model::rope(x, in.cos, in.sin), apply_rope(x, in.cos, in.sin)));
    zili::model::set_fused_kernels_enabled(true);
  }

  const Inputs in(s, torch::kFloat32, 12, /*random_halves=*/false);
  // float64 has no kernel: the reference on the GPU (angles float64 as Rope makes them for a
  // float64 model, or float32).
  const torch::Tensor x64 = in.x.to(torch::kFloat64);
  const torch::Tensor cos64 = in.cos.to(torch::kFloat64), sin64 = in.sin.to(torch::kFloat64);
  CHECK(torch::equal(zili::model::rope(x64, cos64, sin64), apply_rope(x64, cos64, sin64)));
  CHECK(torch::equal(zili::model::rope(x64, in.cos, in.sin), apply_rope(x64, in.cos, in.sin)));
  // Angles of one batch row for B rows: the reference, which broadcasts them.
  const torch::Tensor cos_row = in.cos.narrow(0, 0, 1), sin_row = in.sin.narrow(0, 0, 1);
  CHECK(
      torch::equal(zili::model::rope(in.x, cos_row, sin_row), apply_rope(in.x, cos_row, sin_row)));
  // Angles that need a gradient (the kernel gives them none): the reference, which does.
  const torch::Tensor cos_trained = in.cos.clone().requires_grad_(true);
  zili::model::rope(in.x, cos_trained, in.sin).sum().backward();
  CHECK(cos_trained.grad().defined());
}

TEST_CASE("fused rope rejects bad tensors with expected and actual", "[gpu][rope]") {
  const Inputs in({2, 5, 3, 8}, torch::kFloat32, 3, /*random_halves=*/true);  // x [2, 3, 5, 8]
  using Catch::Contains;
  CHECK_THROWS_WITH(kernels::rope_forward(in.x.cpu(), in.cos, in.sin),
                    Contains("x expected on a CUDA device, got cpu"));
  CHECK_THROWS_WITH(kernels::rope_forward(in.x.to(torch::kFloat64), in.cos, in.sin),
                    Contains("x expected float32, bfloat16 or float16, got Double"));
  CHECK_THROWS_WITH(kernels::rope_forward(in.x[0], in.cos, in.sin),
                    Contains("x expected [B, heads, T, D], got [3, 5, 8]"));
  CHECK_THROWS_WITH(kernels::rope_forward(in.x.narrow(3, 0, 7), in.cos, in.sin),
                    Contains("x expected an even head dim D > 0, got D = 7"));
  const torch::Tensor d_strided = torch::randn({2, 3, 8, 5}, in.x.options()).transpose(2, 3);
  CHECK_THROWS_WITH(kernels::rope_forward(d_strided, in.cos, in.sin),
                    Contains("x expected stride 1 along D, got strides [120, 40, 1, 5]"));
  CHECK_THROWS_WITH(kernels::rope_forward(in.x, in.cos.narrow(1, 0, 4), in.sin),
                    Contains("cos expected [B, T, D] = [2, 5, 8], got [2, 4, 8]"));
  CHECK_THROWS_WITH(kernels::rope_forward(in.x, in.cos.to(torch::kBFloat16), in.sin),
                    Contains("cos expected Float, got BFloat16"));
  const torch::Tensor sin_strided = in.sin.transpose(0, 1).contiguous().transpose(0, 1);
  CHECK_THROWS_WITH(kernels::rope_forward(in.x, in.cos, sin_strided),
                    Contains("sin expected contiguous"));

  torch::Tensor y_bf16 = torch::empty({2, 3, 5, 8}, in.x.options().dtype(torch::kBFloat16));
  CHECK_THROWS_WITH(kernels::rope_forward_out(y_bf16, in.x, in.cos, in.sin),
                    Contains("y expected Float, got BFloat16"));
  // x's memory seen as a contiguous [B, heads, T, D]: the same bytes, other places.
  torch::Tensor y_aliased = in.x.transpose(1, 2).view({2, 3, 5, 8});
  CHECK_THROWS_WITH(kernels::rope_forward_out(y_aliased, in.x, in.cos, in.sin),
                    Contains("y expected to be x itself (in place) or apart from its memory"));
  torch::Tensor dx_expanded = torch::empty({1, 1, 1, 8}, in.x.options()).expand({2, 3, 5, 8});
  CHECK_THROWS_WITH(kernels::rope_backward_out(dx_expanded, in.dy, in.cos, in.sin),
                    Contains("dx expected each element in its own memory"));
  CHECK_THROWS_WITH(kernels::rope_backward(in.dy.cpu(), in.cos, in.sin),
                    Contains("dy expected on a CUDA device, got cpu"));
}
