// LoRA layers that share their input: lora_linear_shared_input against one lora_linear_reference
// per layer (outputs and every gradient, float64), only the gradients asked for, and the model's
// dispatch (shared_input_forward) that takes the shared path only when every adapter can.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "lora/lora_linear.h"
#include "lora/lora_shared_input.h"
#include "model/llama.h"
#include "rel_err.h"

using zili::lora::lora_linear_reference;
using zili::lora::lora_linear_shared_input;
using zili::lora::LoraAdapter;

using zili::test::rel_err;

namespace {

constexpr int64_t kIn = 11;

// Three layers as q/k/v of a GQA attention (out 8, 4, 4) with ranks 3, 2, 5 and scales of their
// own; random float64 weights, biases on the first and last only, B non-zero so that every
// gradient term is exercised. x [2, 5, in].
struct Group {
  torch::Tensor x;
  std::vector<torch::Tensor> weights, biases, as, bs;
  std::vector<double> scales{16.0 / 3, 2.0, 0.5};
  explicit Group(uint64_t seed) {
    torch::manual_seed(seed);
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    x = torch::randn({2, 5, kIn}, f64).requires_grad_(true);
    const int64_t outs[] = {8, 4, 4}, ranks[] = {3, 2, 5};
    for (int i = 0; i < 3; ++i) {
      weights.push_back(torch::randn({outs[i], kIn}, f64));
      biases.push_back(i == 1 ? torch::Tensor() : torch::randn({outs[i]}, f64));
      as.push_back(torch::randn({ranks[i], kIn}, f64).requires_grad_(true));
      bs.push_back(torch::randn({outs[i], ranks[i]}, f64).requires_grad_(true));
    }
  }
  // Every trainable tensor: x, then each A, then each B.
  std::vector<torch::Tensor> inputs() const {
    std::vector<torch::Tensor> all{x};
    all.insert(all.end(), as.begin(), as.end());
    all.insert(all.end(), bs.begin(), bs.end());
    return all;
  }
};

// Σ_i <y_i, c_i> with fixed random c_i: a loss whose gradient reaches every output differently.
torch::Tensor weighted_sum(const std::vector<torch::Tensor>& ys) {
  torch::manual_seed(99);
  torch::Tensor loss = torch::zeros({}, ys[0].options());
  for (const torch::Tensor& y : ys) {
    // Drawn in float64 then cast, so that the same seed weighs a bf16 and an fp32 y alike.
    loss = loss + (y * torch::randn(y.sizes(), torch::kFloat64).to(y.scalar_type())).sum();
  }
  return loss;
}

}  // namespace

TEST_CASE("lora_linear_shared_input equals one reference per layer, values and gradients",
          "[lora]") {
  Group group(1);
  const std::vector<torch::Tensor> ys = lora_linear_shared_input(
      group.x, group.weights, group.biases, group.as, group.bs, group.scales);
  std::vector<torch::Tensor> refs;
  for (size_t i = 0; i < 3; ++i) {
    refs.push_back(lora_linear_reference(group.x, group.weights[i], group.biases[i], group.as[i],
                                         group.bs[i], group.scales[i]));
  }
  REQUIRE(ys.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    REQUIRE(ys[i].sizes() == refs[i].sizes());
    CHECK(rel_err(ys[i], refs[i]) <= 1e-12);
  }

  const auto inputs = group.inputs();
  const auto grads = torch::autograd::grad({weighted_sum(ys)}, inputs);
  const auto grads_ref = torch::autograd::grad({weighted_sum(refs)}, inputs);
  REQUIRE(grads.size() == 7);
  for (size_t j = 0; j < grads.size(); ++j) {
    INFO("input " << j << " (0: x, 1-3: A, 4-6: B)");
    CHECK(rel_err(grads[j], grads_ref[j]) <= 1e-12);
  }
}

TEST_CASE("lora_linear_shared_input computes only the gradients asked for", "[lora]") {
  Group group(2);
  // A of the middle layer frozen, x not asking: its gradient must stay out of the graph.
  group.as[1].requires_grad_(false);
  group.x.requires_grad_(false);
  const auto ys = lora_linear_shared_input(group.x, group.weights, group.biases, group.as, group.bs,
                                           group.scales);
  weighted_sum(ys).backward();
  CHECK_FALSE(group.as[1].grad().defined());
  CHECK_FALSE(group.x.grad().defined());
  CHECK(group.as[0].grad().defined());
  CHECK(group.as[2].grad().defined());
  for (const auto& b : group.bs) CHECK(b.grad().defined());
}

TEST_CASE("lora_linear_shared_input in bfloat16: fp32 gradients for A and B, close to fp32",
          "[lora]") {
  Group group(5);
  const auto leaf = [](const torch::Tensor& t, torch::Dtype dtype) {
    return t.detach().to(dtype).requires_grad_(t.requires_grad());
  };
  // x and W in bf16 (the compute dtype), A and B fp32 master copies; the reference all fp32.
  std::vector<torch::Tensor> w16, b16, as, bs, as32, bs32, w32, b32;
  for (size_t i = 0; i < 3; ++i) {
    w16.push_back(group.weights[i].to(torch::kBFloat16));
    b16.push_back(group.biases[i].defined() ? group.biases[i].to(torch::kBFloat16)
                                            : torch::Tensor());
    w32.push_back(w16.back().to(torch::kFloat32));
    b32.push_back(b16.back().defined() ? b16.back().to(torch::kFloat32) : torch::Tensor());
    as.push_back(leaf(group.as[i], torch::kFloat32));
    bs.push_back(leaf(group.bs[i], torch::kFloat32));
    as32.push_back(leaf(group.as[i], torch::kFloat32));
    bs32.push_back(leaf(group.bs[i], torch::kFloat32));
  }
  const torch::Tensor x16 = leaf(group.x, torch::kBFloat16);
  const torch::Tensor x32 = leaf(x16, torch::kFloat32);
  const auto ys = lora_linear_shared_input(x16, w16, b16, as, bs, group.scales);
  const auto refs = lora_linear_shared_input(x32, w32, b32, as32, bs32, group.scales);
  for (size_t i = 0; i < 3; ++i) {
    REQUIRE(ys[i].scalar_type() == torch::kBFloat16);
    CHECK(rel_err(ys[i].to(torch::kFloat32), refs[i]) <= 2e-2);
  }
  weighted_sum(ys).backward();
  weighted_sum(refs).backward();
  CHECK(x16.grad().scalar_type() == torch::kBFloat16);
  CHECK(rel_err(x16.grad().to(torch::kFloat32), x32.grad()) <= 2e-2);
  for (size_t i = 0; i < 3; ++i) {
    REQUIRE(as[i].grad().scalar_type() == torch::kFloat32);
    REQUIRE(bs[i].grad().scalar_type() == torch::kFloat32);
    CHECK(rel_err(as[i].grad(), as32[i].grad()) <= 2e-2);
    CHECK(rel_err(bs[i].grad(), bs32[i].grad()) <= 2e-2);
  }
}

TEST_CASE("lora_linear_shared_input rejects lists of different lengths and bad shapes", "[lora]") {
  Group group(3);
  auto short_scales = group.scales;
  short_scales.pop_back();
  CHECK_THROWS_WITH(lora_linear_shared_input(group.x, group.weights, group.biases, group.as,
                                             group.bs, short_scales),
                    Catch::Contains("as many A, B, biases and scales"));
  auto bad_as = group.as;
  bad_as[2] = torch::randn({5, kIn + 1}, torch::kFloat64);
  CHECK_THROWS_WITH(lora_linear_shared_input(group.x, group.weights, group.biases, bad_as, group.bs,
                                             group.scales),
                    Catch::Contains("A expected [r, 11]"));
}

TEST_CASE("shared_input_forward: one grouped call when every adapter can, else each alone",
          "[lora]") {
  Group group(4);
  const auto x = group.x.detach().to(torch::kFloat32);
  std::vector<zili::model::Linear> layers;
  std::vector<std::shared_ptr<LoraAdapter>> adapters;
  for (size_t i = 0; i < 3; ++i) {
    zili::model::Linear layer(kIn, group.weights[i].size(0), group.biases[i].defined());
    layer->weight.set_data(group.weights[i].to(torch::kFloat32));
    if (group.biases[i].defined()) layer->bias.set_data(group.biases[i].to(torch::kFloat32));
    auto adapter = std::make_shared<LoraAdapter>(
        group.as[i].detach().to(torch::kFloat32).requires_grad_(true),
        group.bs[i].detach().to(torch::kFloat32).requires_grad_(true), group.scales[i], 0.3);
    layer->adapter = adapter;
    layers.push_back(layer);
    adapters.push_back(adapter);
  }
  const std::vector<zili::model::LinearImpl*> ptrs{layers[0].get(), layers[1].get(),
                                                   layers[2].get()};
  // The grouped function is the outputs' grad_fn when it ran; each layer's own otherwise.
  const auto grad_fn_names = [&] {
    std::vector<std::string> names;
    for (const auto& y : zili::model::shared_input_forward(ptrs, x)) {
      REQUIRE(y.grad_fn());
      names.push_back(y.grad_fn()->name());
    }
    return names;
  };
  const auto all_grouped = [](const std::vector<std::string>& names) {
    for (const auto& n : names) {
      if (n.find("LoraSharedInputFunction") == std::string::npos) return false;
    }
    return true;
  };

  // Eval mode (no dropout drawn): grouped, and the values are each layer's own forward.
  CHECK(all_grouped(grad_fn_names()));
  const auto ys = zili::model::shared_input_forward(ptrs, x);
  for (size_t i = 0; i < 3; ++i) CHECK(rel_err(ys[i], layers[i]->forward(x)) <= 1e-6);

  // Training with dropout 0.3: each PEFT layer draws its own mask, so each runs alone.
  for (auto& a : adapters) a->training = true;
  const auto names = grad_fn_names();
  for (const auto& n : names) CHECK(n.find("LoraSharedInputFunction") == std::string::npos);

  // Training with dropout 0: grouped again.
  for (auto& a : adapters) a->dropout = 0;
  CHECK(all_grouped(grad_fn_names()));

  // One adapter switched off: the others cannot be grouped with it, every layer runs alone,
  // the disabled one exactly as its base.
  adapters[1]->enabled = false;
  const auto mixed = zili::model::shared_input_forward(ptrs, x);
  CHECK(torch::equal(mixed[1], layers[1]->base_forward(x)));
  CHECK(mixed[0].grad_fn()->name().find("LoraSharedInputFunction") == std::string::npos);

  // A layer without an adapter (k_proj untargeted, as in PEFT's q_proj,v_proj default): the two
  // adapted layers go together, the plain one runs by itself.
  adapters[1]->enabled = true;
  layers[1]->adapter = nullptr;
  const auto partial = zili::model::shared_input_forward(ptrs, x);
  CHECK(partial[0].grad_fn()->name().find("LoraSharedInputFunction") != std::string::npos);
  CHECK(partial[2].grad_fn()->name().find("LoraSharedInputFunction") != std::string::npos);
  CHECK(torch::equal(partial[1], layers[1]->base_forward(x)));
}
