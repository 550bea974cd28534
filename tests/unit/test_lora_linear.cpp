// The LoRA linear layer: its forward against the plain-ops reference and a hand-written loop,
// its custom backward against the reference's autograd in float64 (with and without dropout),
// frozen W and b, and the adapter's switches (disabled, B = 0, dropout, mixed dtypes).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "lora/lora_linear.h"
#include "model/llama.h"
#include "rel_err.h"

using zili::lora::lora_linear;
using zili::lora::lora_linear_reference;
using zili::lora::lora_linear_with_dropout;
using zili::lora::LoraAdapter;

using zili::test::rel_err;

namespace {

constexpr int64_t kIn = 13, kOut = 7, kRank = 3;
constexpr double kScale = 16.0 / kRank;  // alpha / r with alpha = 16

// Fresh random float64 inputs: x [2, 5, in], W [out, in], b [out], A [r, in], B [out, r]
// (B non-zero, unlike LoRA's initialisation, so every gradient term is exercised).
struct Inputs {
  torch::Tensor x, weight, bias, a, b, mask;
  explicit Inputs(uint64_t seed, torch::Dtype dtype = torch::kFloat64) {
    torch::manual_seed(seed);
    const auto opt = torch::TensorOptions().dtype(dtype);
    x = torch::randn({2, 5, kIn}, opt).requires_grad_(true);
    weight = torch::randn({kOut, kIn}, opt);
    bias = torch::randn({kOut}, opt);
    a = torch::randn({kRank, kIn}, opt).requires_grad_(true);
    b = torch::randn({kOut, kRank}, opt).requires_grad_(true);
    // Dropout with p = 0.4: entries 0 or 1/0.6, both present.
    mask = torch::bernoulli(torch::full({2, 5, kIn}, 0.6, opt)).div_(0.6);
  }
};

// A model Linear [in -> out] with bias and given random weights (float32).
zili::model::Linear make_linear(uint64_t seed) {
  torch::manual_seed(seed);
  zili::model::Linear lin(kIn, kOut, /*with_bias=*/true);
  torch::NoGradGuard no_grad;
  lin->weight.set_data(torch::randn({kOut, kIn}));
  lin->bias.set_data(torch::randn({kOut}));
  return lin;
}

}  // namespace

TEST_CASE("lora_linear forward equals the reference and a hand-written loop", "[lora]") {
  Inputs in(1);
  const bool with_mask = GENERATE(false, true);
  const torch::Tensor mask = with_mask ? in.mask : torch::Tensor();
  REQUIRE((in.mask == 0).any().item<bool>());
  REQUIRE((in.mask != 0).any().item<bool>());

  const torch::Tensor y = lora_linear(in.x, in.weight, in.bias, in.a, in.b, kScale, mask);
  const torch::Tensor y_ref =
      lora_linear_reference(in.x, in.weight, in.bias, in.a, in.b, kScale, mask);
  REQUIRE(y.sizes() == torch::IntArrayRef({2, 5, kOut}));
  CHECK(rel_err(y, y_ref) <= 1e-12);

  // y_ntk = Σ_i x_nti W_ki + b_k + s Σ_j (Σ_i xd_nti A_ji) B_kj, one scalar at a time.
  const auto x = in.x.detach(), w = in.weight, bias = in.bias;
  const auto a = in.a.detach(), b = in.b.detach();
  const auto m = with_mask ? in.mask : torch::ones_like(x);
  auto X = x.accessor<double, 3>();
  auto M = m.accessor<double, 3>();
  auto W = w.accessor<double, 2>();
  auto A = a.accessor<double, 2>();
  auto B = b.accessor<double, 2>();
  auto Bias = bias.accessor<double, 1>();
  const auto y_d = y.detach();
  auto Y = y_d.accessor<double, 3>();
  double worst = 0;
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t t = 0; t < 5; ++t) {
      for (int64_t k = 0; k < kOut; ++k) {
        double expected = Bias[k];
        for (int64_t i = 0; i < kIn; ++i) expected += X[n][t][i] * W[k][i];
        for (int64_t j = 0; j < kRank; ++j) {
          double xa = 0;
          for (int64_t i = 0; i < kIn; ++i) xa += X[n][t][i] * M[n][t][i] * A[j][i];
          expected += kScale * xa * B[k][j];
        }
        worst = std::max(worst, std::abs(Y[n][t][k] - expected) / (1 + std::abs(expected)));
      }
    }
  }
  CHECK(worst <= 1e-12);
}

TEST_CASE("lora_linear backward equals the reference's autograd in float64", "[lora]") {
  Inputs in(2);
  const bool with_mask = GENERATE(false, true);
  const bool with_bias = GENERATE(false, true);
  const torch::Tensor mask = with_mask ? in.mask : torch::Tensor();
  const torch::Tensor bias = with_bias ? in.bias : torch::Tensor();
  const torch::Tensor upstream = torch::randn({2, 5, kOut}, torch::kFloat64);  // dL/dy

  const auto grads = [&](const torch::Tensor& y) {
    return torch::autograd::grad({(y * upstream).sum()}, {in.x, in.a, in.b});
  };
  const auto got = grads(lora_linear(in.x, in.weight, bias, in.a, in.b, kScale, mask));
  const auto want = grads(lora_linear_reference(in.x, in.weight, bias, in.a, in.b, kScale, mask));
  CHECK(rel_err(got[0], want[0]) <= 1e-10);  // dX [2, 5, in]
  CHECK(rel_err(got[1], want[1]) <= 1e-10);  // dA [r, in]
  CHECK(rel_err(got[2], want[2]) <= 1e-10);  // dB [out, r]
  CHECK(got[1].scalar_type() == torch::kFloat64);
  CHECK(got[2].scalar_type() == torch::kFloat64);
}

TEST_CASE("lora_linear computes only the gradients that are asked for", "[lora]") {
  Inputs in(3);
  const torch::Tensor upstream = torch::randn({2, 5, kOut}, torch::kFloat64);

  SECTION("A and B frozen: only x") {
    const auto a = in.a.detach(), b = in.b.detach();
    const auto got = torch::autograd::grad(
        {(lora_linear(in.x, in.weight, in.bias, a, b, kScale, in.mask) * upstream).sum()}, {in.x});
    const auto want = torch::autograd::grad(
        {(lora_linear_reference(in.x, in.weight, in.bias, a, b, kScale, in.mask) * upstream).sum()},
        {in.x});
    CHECK(rel_err(got[0], want[0]) <= 1e-10);
  }
  SECTION("x frozen (the first layer's input): only A and B") {
    const auto x = in.x.detach();
    const auto got = torch::autograd::grad(
        {(lora_linear(x, in.weight, in.bias, in.a, in.b, kScale) * upstream).sum()}, {in.a, in.b});
    const auto want = torch::autograd::grad(
        {(lora_linear_reference(x, in.weight, in.bias, in.a, in.b, kScale) * upstream).sum()},
        {in.a, in.b});
    CHECK(rel_err(got[0], want[0]) <= 1e-10);
    CHECK(rel_err(got[1], want[1]) <= 1e-10);
  }
  SECTION("nothing requires grad: a plain forward") {
    torch::NoGradGuard no_grad;
    const auto y = lora_linear(in.x, in.weight, in.bias, in.a, in.b, kScale, in.mask);
    CHECK_FALSE(y.requires_grad());
    CHECK(rel_err(y, lora_linear_reference(in.x, in.weight, in.bias, in.a, in.b, kScale,
                                           in.mask)) <= 1e-12);
  }
}

TEST_CASE("lora_linear gives W and the bias no gradient", "[lora]") {
  Inputs in(4);
  SECTION("W frozen as in a model") {
    REQUIRE_FALSE(in.weight.requires_grad());
    lora_linear(in.x, in.weight, in.bias, in.a, in.b, kScale).sum().backward();
    CHECK_FALSE(in.weight.grad().defined());
    CHECK(in.a.grad().defined());
  }
  SECTION("W and b passed with requires_grad = true still get none") {
    const auto w = in.weight.clone().requires_grad_(true);
    const auto bias = in.bias.clone().requires_grad_(true);
    lora_linear(in.x, w, bias, in.a, in.b, kScale, in.mask).sum().backward();
    CHECK_FALSE(w.grad().defined());
    CHECK_FALSE(bias.grad().defined());
    // The backward did run: x, A and B got theirs.
    CHECK(in.x.grad().defined());
    CHECK(in.a.grad().defined());
    CHECK(in.b.grad().defined());
  }
}

TEST_CASE("lora_linear rejects shapes that do not fit", "[lora]") {
  Inputs in(5);
  CHECK_THROWS_WITH(
      lora_linear(in.x, in.weight, in.bias, in.a.detach().narrow(1, 0, kIn - 1), in.b, kScale),
      Catch::Contains("A expected [r, 13]"));
  CHECK_THROWS_WITH(
      lora_linear(in.x, in.weight, in.bias, in.a, in.b.detach().narrow(0, 0, kOut - 1), kScale),
      Catch::Contains("B expected [7, 3]"));
  CHECK_THROWS_WITH(
      lora_linear(in.x, in.weight, in.bias, in.a, in.b, kScale, in.mask.narrow(1, 0, 4)),
      Catch::Contains("dropout mask expected the shape of x"));
}

TEST_CASE("LoraAdapter: disabled or B = 0 gives exactly the base output", "[lora]") {
  auto lin = make_linear(6);
  const torch::Tensor x = torch::randn({2, 5, kIn});
  const torch::Tensor base = lin->base_forward(x);
  auto adapter =
      std::make_shared<LoraAdapter>(torch::randn({kRank, kIn}).requires_grad_(true),
                                    torch::randn({kOut, kRank}).requires_grad_(true), kScale, 0.1);
  lin->adapter = adapter;

  // Enabled, with a non-zero B, it is not the base (so the checks below can fail).
  const torch::Tensor y_on = lin->forward(x);
  CHECK_FALSE(torch::allclose(y_on, base, 1e-3, 1e-3));
  CHECK(rel_err(y_on, lora_linear_reference(x, lin->weight, lin->bias, adapter->lora_a,
                                            adapter->lora_b, kScale)) <= 1e-5);

  adapter->enabled = false;
  CHECK(torch::equal(lin->forward(x), base));
  adapter->training = true;  // disabled wins over dropout too
  CHECK(torch::equal(lin->forward(x), base));

  // B = 0 (LoRA's initialisation): the base linear call plus exact zeros, bit for bit.
  lin->adapter =
      std::make_shared<LoraAdapter>(torch::randn({kRank, kIn}).requires_grad_(true),
                                    torch::zeros({kOut, kRank}).requires_grad_(true), kScale, 0.0);
  CHECK(torch::equal(lin->forward(x), base));
}

TEST_CASE("lora_linear_with_dropout: the backward draws the forward's mask again", "[lora]") {
  const Inputs in(31);
  const torch::Tensor upstream = torch::randn({2, 5, kOut}, torch::kFloat64);
  const auto run = [&](const std::function<torch::Tensor()>& forward) {
    const torch::Tensor y = forward();
    torch::rand({1000});  // the generator moves on between forward and backward
    const auto g = torch::autograd::grad({(y * upstream).sum()}, {in.x, in.a, in.b});
    return std::vector<torch::Tensor>{y.detach(), g[0], g[1], g[2]};
  };
  // The same seed: the mask drawn inside, and the same mask drawn outside and passed in.
  torch::manual_seed(77);
  const auto inside = run(
      [&] { return lora_linear_with_dropout(in.x, in.weight, in.bias, in.a, in.b, kScale, 0.4); });
  torch::manual_seed(77);
  const torch::Tensor mask = torch::empty_like(in.x).bernoulli_(0.6).div_(0.6);
  const auto outside =
      run([&] { return lora_linear(in.x, in.weight, in.bias, in.a, in.b, kScale, mask); });
  REQUIRE(mask.eq(0).any().item<bool>());  // some entries dropped, some kept
  REQUIRE(mask.ne(0).any().item<bool>());
  for (size_t i = 0; i < inside.size(); ++i) {
    INFO("output " << i << " (y, dx, dA, dB)");
    CHECK(torch::equal(inside[i], outside[i]));
  }
  // And a mask that differs changes the gradients, so the comparison above can fail.
  torch::manual_seed(78);
  const auto other = run(
      [&] { return lora_linear_with_dropout(in.x, in.weight, in.bias, in.a, in.b, kScale, 0.4); });
  CHECK_FALSE(torch::equal(other[1], outside[1]));
  // p = 0: no mask at all.
  CHECK(torch::equal(lora_linear_with_dropout(in.x, in.weight, in.bias, in.a, in.b, kScale, 0.0),
                     lora_linear(in.x, in.weight, in.bias, in.a, in.b, kScale)));
}

TEST_CASE("LoraAdapter dropout: random while training, deterministic in eval", "[lora]") {
  auto lin = make_linear(7);
  const torch::Tensor x = torch::randn({2, 5, kIn});
  auto adapter = std::make_shared<LoraAdapter>(torch::randn({kRank, kIn}),
                                               torch::randn({kOut, kRank}), kScale, 0.5);
  lin->adapter = adapter;

  adapter->training = false;
  const torch::Tensor eval1 = lin->forward(x), eval2 = lin->forward(x);
  CHECK(torch::equal(eval1, eval2));
  CHECK(torch::equal(
      eval1, lora_linear(x, lin->weight, lin->bias, adapter->lora_a, adapter->lora_b, kScale)));

  adapter->training = true;
  const torch::Tensor train1 = lin->forward(x), train2 = lin->forward(x);
  CHECK_FALSE(torch::equal(train1, train2));
  CHECK_FALSE(torch::equal(train1, eval1));

  // Dropout acts on the LoRA path only: with B = 0 training still gives the base.
  adapter->lora_b = torch::zeros({kOut, kRank});
  CHECK(torch::equal(lin->forward(x), lin->base_forward(x)));

  CHECK_THROWS_WITH(
      LoraAdapter(torch::randn({kRank, kIn}), torch::randn({kOut, kRank}), kScale, 1.0),
      Catch::Contains("dropout expected in [0, 1)"));
}

TEST_CASE("LoraAdapter with a bf16 base weight: fp32 gradients for A and B", "[lora]") {
  auto lin = make_linear(8);
  {
    torch::NoGradGuard no_grad;
    lin->weight.set_data(lin->weight.to(torch::kBFloat16));
    lin->bias.set_data(lin->bias.to(torch::kBFloat16));
  }
  auto adapter =
      std::make_shared<LoraAdapter>(torch::randn({kRank, kIn}).requires_grad_(true),
                                    torch::randn({kOut, kRank}).requires_grad_(true), kScale, 0.0);
  lin->adapter = adapter;
  const auto compute = GENERATE(torch::kFloat32, torch::kBFloat16);
  const torch::Tensor x = torch::randn({2, 5, kIn}).to(compute).requires_grad_(true);
  const torch::Tensor upstream = torch::randn({2, 5, kOut}).to(compute);

  const torch::Tensor y = lin->forward(x);
  CHECK(y.scalar_type() == compute);
  const auto got =
      torch::autograd::grad({(y * upstream).sum()}, {x, adapter->lora_a, adapter->lora_b});
  CHECK(got[0].scalar_type() == compute);
  CHECK(got[1].scalar_type() == torch::kFloat32);
  CHECK(got[2].scalar_type() == torch::kFloat32);

  const auto want = torch::autograd::grad(
      {(lora_linear_reference(x, lin->weight, lin->bias, adapter->lora_a, adapter->lora_b, kScale) *
        upstream)
           .sum()},
      {x, adapter->lora_a, adapter->lora_b});
  // fp32: both paths round differently only in summation order; bf16: ~3 significant digits.
  const double tol = compute == torch::kFloat32 ? 1e-5 : 3e-2;
  CHECK(rel_err(got[0].to(torch::kFloat32), want[0].to(torch::kFloat32)) <= tol);
  CHECK(rel_err(got[1], want[1]) <= tol);
  CHECK(rel_err(got[2], want[2]) <= tol);
}
