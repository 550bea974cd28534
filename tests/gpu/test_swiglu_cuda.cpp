// Parity of the fused SwiGLU (kernels/swiglu.cu) with its plain-ops reference
// (model::swiglu_reference = torch::silu(gate) * up, under autograd), forward and backward, on
// fresh random inputs: from one element to more than the grid holds threads (each thread then
// takes several), odd sizes, gate spread wide enough to reach both tails of the sigmoid, in
// float32, bfloat16 and float16; then the dispatch and the checks' messages. Every kernel
// output is filled with NaN first, so an element the kernel does not write shows.
//
// Tolerances as in test_rmsnorm_cuda.cpp: against the reference in float32 on the same inputs
// (bf16/fp16 values are exact in float32), 1e-5 relative in float32 and 1e-2 in bfloat16 and
// float16, where the kernel rounds each result once (2^-8 relative at most in bf16); against
// the reference run in the same low precision, which rounds silu(gate) and dh * up first, 2e-2.
#include <catch2/catch.hpp>

#include <limits>
#include <vector>

#include <torch/torch.h>

#include "gpu_parity.h"

#include "kernels/swiglu.h"
#include "model/fused.h"
#include "model/swiglu.h"

namespace kernels = zili::kernels;
using zili::model::swiglu_reference;

using namespace zili::gpu_tests;

namespace {

// Fresh random inputs on the GPU: gate with deviation 4 (sigmoid from ~0 to ~1), up, dh.
struct Inputs {
  torch::Tensor gate, up, dh;
  Inputs(const std::vector<int64_t>& sizes, torch::Dtype dtype, uint64_t seed) {
    torch::manual_seed(seed);
    const auto opt = torch::TensorOptions().device(torch::kCUDA);
    gate = (4 * torch::randn(sizes, opt)).to(dtype);
    up = torch::randn(sizes, opt).to(dtype);
    dh = torch::randn(sizes, opt).to(dtype);
  }
};

// swiglu_reference on gate and up converted to `dtype`, and its gradients for dh.
struct Reference {
  torch::Tensor h, dgate, dup;
  Reference(const Inputs& in, torch::Dtype dtype) {
    const torch::Tensor gate = in.gate.to(dtype).detach().requires_grad_(true);
    const torch::Tensor up = in.up.to(dtype).detach().requires_grad_(true);
    h = swiglu_reference(gate, up);
    h.backward(in.dh.to(dtype));
    h = h.detach();
    dgate = gate.grad();
    dup = up.grad();
  }
};

}  // namespace

TEST_CASE("fused swiglu forward equals the reference", "[gpu][swiglu]") {
  uint64_t seed = 1;
  for (const Tolerance& tol : kTolerances) {
    for (const auto& sizes : elementwise_test_shapes()) {
      INFO("sizes " << at::IntArrayRef(sizes) << ", " << tol.dtype);
      const Inputs in(sizes, tol.dtype, seed++);
      torch::Tensor h = poisoned_like(in.gate);
      kernels::swiglu_forward_out(h, in.gate, in.up);
      CHECK(rel_err(h, Reference(in, torch::kFloat32).h) <= tol.rel);
      CHECK(rel_err(h, swiglu_reference(in.gate, in.up)) <= tol.rel_same);
      CHECK(torch::equal(kernels::swiglu_forward(in.gate, in.up), h));
    }
  }
}

TEST_CASE("fused swiglu backward equals the reference's autograd", "[gpu][swiglu]") {
  uint64_t seed = 100;
  for (const Tolerance& tol : kTolerances) {
    for (const auto& sizes : elementwise_test_shapes()) {
      INFO("sizes " << at::IntArrayRef(sizes) << ", " << tol.dtype);
      const Inputs in(sizes, tol.dtype, seed++);
      torch::Tensor dgate = poisoned_like(in.gate), dup = poisoned_like(in.up);
      kernels::swiglu_backward_out(dgate, dup, in.dh, in.gate, in.up);
      const Reference ref32(in, torch::kFloat32);
      CHECK(rel_err(dgate, ref32.dgate) <= tol.rel);
      CHECK(rel_err(dup, ref32.dup) <= tol.rel);
      const Reference ref_same(in, tol.dtype);
      CHECK(rel_err(dgate, ref_same.dgate) <= tol.rel_same);
      CHECK(rel_err(dup, ref_same.dup) <= tol.rel_same);

      // One gradient alone: the same bits; the other is not written.
      torch::Tensor dgate_only = poisoned_like(in.gate), no_dup;
      kernels::swiglu_backward_out(dgate_only, no_dup, in.dh, in.gate, in.up);
      CHECK(torch::equal(dgate_only, dgate));
      CHECK_FALSE(no_dup.defined());
      const kernels::SwigluBackward dup_only =
          kernels::swiglu_backward(in.dh, in.gate, in.up, /*with_dgate=*/false, /*with_dup=*/true);
      CHECK_FALSE(dup_only.dgate.defined());
      CHECK(torch::equal(dup_only.dup, dup));
    }
  }
}

TEST_CASE("model::swiglu takes the fused path under autograd on CUDA", "[gpu][swiglu]") {
  REQUIRE(zili::model::fused_kernels_built());
  for (const Tolerance& tol : kTolerances) {
    INFO(tol.dtype);
    const Inputs in({2, 9, 130}, tol.dtype, 11);
    // gate a transposed view of a leaf (the fused path makes it contiguous), up a leaf.
    const torch::Tensor gate_leaf = in.gate.transpose(1, 2).contiguous().requires_grad_(true);
    const torch::Tensor gate = gate_leaf.transpose(1, 2);
    const torch::Tensor up = in.up.clone().requires_grad_(true);
    REQUIRE(zili::model::use_fused_kernels(gate));
    const torch::Tensor h = zili::model::swiglu(gate, up);
    h.backward(in.dh);
    CHECK(torch::equal(h, zili::model::swiglu_fused(gate, up)));

    const Reference ref32(in, torch::kFloat32);
    CHECK(rel_err(h, ref32.h) <= tol.rel);
    CHECK(rel_err(gate_leaf.grad().transpose(1, 2), ref32.dgate) <= tol.rel);
    CHECK(rel_err(up.grad(), ref32.dup) <= tol.rel);

    // Only up needs a gradient: the same dup (the kernel skips dgate).
    const torch::Tensor up_alone = in.up.clone().requires_grad_(true);
    zili::model::swiglu(in.gate, up_alone).backward(in.dh);
    CHECK(torch::equal(up_alone.grad(), up.grad()));

    {  // Without a graph (generation): the same values.
      torch::NoGradGuard no_grad;
      CHECK(torch::equal(zili::model::swiglu(gate, up), h.detach()));
    }

    // Switched off (--no-fused): the reference, bit for bit.
    zili::model::set_fused_kernels_enabled(false);
    CHECK_FALSE(zili::model::use_fused_kernels(gate));
    CHECK(torch::equal(zili::model::swiglu(gate, up), swiglu_reference(gate, up)));
    zili::model::set_fused_kernels_enabled(true);
  }

  const Inputs in({3, 130}, torch::kFloat32, 12);
  // float64 has no kernel: the reference on the GPU.
  const torch::Tensor gate64 = in.gate.to(torch::kFloat64), up64 = in.up.to(torch::kFloat64);
  CHECK(torch::equal(zili::model::swiglu(gate64, up64), swiglu_reference(gate64, up64)));
  // Mixed dtypes, or up broadcast over gate: the reference, which handles both.
  const torch::Tensor up_bf16 = in.up.to(torch::kBFloat16);
  CHECK(torch::equal(zili::model::swiglu(in.gate, up_bf16), swiglu_reference(in.gate, up_bf16)));
  const torch::Tensor up_row = in.up.narrow(0, 0, 1);
  CHECK(torch::equal(zili::model::swiglu(in.gate, up_row), swiglu_reference(in.gate, up_row)));
}

TEST_CASE("fused swiglu rejects bad tensors with expected and actual", "[gpu][swiglu]") {
  const Inputs in({4, 130}, torch::kFloat32, 3);
  using Catch::Contains;
  CHECK_THROWS_WITH(kernels::swiglu_forward(in.gate.cpu(), in.up),
                    Contains("gate expected on a CUDA device, got cpu"));
  CHECK_THROWS_WITH(kernels::swiglu_forward(in.gate.to(torch::kFloat64), in.up),
                    Contains("gate expected float32, bfloat16 or float16, got Double"));
  CHECK_THROWS_WITH(kernels::swiglu_forward(in.gate.t(), in.up.t()),
                    Contains("gate expected contiguous"));
  CHECK_THROWS_WITH(kernels::swiglu_forward(in.gate, in.up.narrow(1, 0, 129)),
                    Contains("up expected [4, 130] (gate), got [4, 129]"));
  CHECK_THROWS_WITH(kernels::swiglu_forward(in.gate, in.up.to(torch::kBFloat16)),
                    Contains("up expected Float (gate), got BFloat16"));
  torch::Tensor gate_copy = in.gate.clone();
  CHECK_THROWS_WITH(kernels::swiglu_forward_out(gate_copy, gate_copy, in.up),
                    Contains("h expected apart from gate"));
  CHECK_THROWS_WITH(kernels::swiglu_backward(in.dh.narrow(0, 0, 3), in.gate, in.up, true, true),
                    Contains("dh expected [4, 130] (gate), got [3, 130]"));
  CHECK_THROWS_WITH(kernels::swiglu_backward(in.dh, in.gate, in.up, false, false),
                    Contains("expected dgate, dup or both to compute, got neither"));
}
