// The model on its own: incremental decoding with the KV cache equals the full forward,
// the attention mask rules, RoPE frequencies worked out by hand, and config.json errors.
#include <catch2/catch.hpp>

#include <cmath>

#include "model/config.h"
#include "model/device.h"
#include "model/llama.h"
#include "model/load.h"
#include "model/presets.h"
#include "model/random_init.h"
#include "util/error.h"

using namespace zili::model;

namespace {

ModelConfig tiny_config(bool mistral_window = false) {
  ModelConfig c = preset_config("tiny", 97, mistral_window ? Family::mistral : Family::llama);
  if (mistral_window) c.sliding_window = 5;
  return c;
}

// Gives `model` the named tensors, through the same checks as loading a checkpoint.
void assign_from(LlamaForCausalLMImpl& model, const std::map<std::string, torch::Tensor>& tensors,
                 const std::string& where) {
  std::vector<std::string> names;
  for (const auto& item : tensors) names.push_back(item.first);
  assign_parameters(model,
                    [&](const std::string& n) -> std::optional<torch::Tensor> {
                      auto it = tensors.find(n);
                      if (it == tensors.end()) return std::nullopt;
                      return it->second;
                    },
                    names, where, {});
}

// A model with random weights scaled up so that predictions are far from uniform; in
// float64 (weights and compute) where the comparisons need exactness beyond fp32 rounding.
LlamaForCausalLM random_model(const ModelConfig& c, uint64_t seed,
                              c10::ScalarType dtype = torch::kFloat32) {
  auto weights = random_weights(c, seed, dtype);
  std::map<std::string, torch::Tensor> by_name;
  for (auto& [name, tensor] : weights)
    by_name[name] = name.ends_with("norm.weight") ? tensor : tensor * 15;
  LlamaForCausalLM model(c);
  assign_from(*model, by_name, "test");
  model->model->compute_dtype = dtype;
  return model;
}

}  // namespace

TEST_CASE("KV-cache decoding gives the full forward's logits, token by token") {
  for (bool window : {false, true}) {
    DYNAMIC_SECTION((window ? "mistral sliding window 5" : "llama")) {
      ModelConfig c = tiny_config(window);
      auto model = random_model(c, 3, torch::kFloat64);
      torch::NoGradGuard no_grad;
      torch::manual_seed(11);
      torch::Tensor ids = torch::randint(0, c.vocab_size, {2, 13}, torch::kInt64);
      torch::Tensor full = model->logits(model->forward(ids));  // [2, 13, V]
      REQUIRE(full.std().item<double>() > 0.5);                 // predictions are far from uniform

      KVCache cache(c.num_hidden_layers);
      ForwardOptions options;
      options.cache = &cache;
      // Prefill 4 positions at once, then a chunk of 3 on top of the cache, then one at a time.
      torch::Tensor first = model->logits(model->forward(ids.narrow(1, 0, 4), options));
      REQUIRE(torch::allclose(first, full.narrow(1, 0, 4), 1e-10, 1e-10));
      torch::Tensor chunk = model->logits(model->forward(ids.narrow(1, 4, 3), options));
      REQUIRE(cache.length() == 7);
      REQUIRE(torch::allclose(chunk, full.narrow(1, 4, 3), 1e-10, 1e-10));
      for (int64_t t = 7; t < 13; ++t) {
        torch::Tensor step = model->logits(model->forward(ids.narrow(1, t, 1), options));
        INFO("position " << t);
        REQUIRE(cache.length() == t + 1);
        REQUIRE(torch::allclose(step[0][0], full[0][t], 1e-10, 1e-10));
        REQUIRE(torch::allclose(step[1][0], full[1][t], 1e-10, 1e-10));
      }
    }
  }
}

TEST_CASE("a left-padded row with its attention mask gives the unpadded logits") {
  ModelConfig c = tiny_config();
  auto model = random_model(c, 8, torch::kFloat64);
  torch::NoGradGuard no_grad;
  torch::manual_seed(13);
  torch::Tensor ids = torch::randint(3, c.vocab_size, {1, 6}, torch::kInt64);
  torch::Tensor alone = model->logits(model->forward(ids));  // [1, 6, V]
  // Three pad tokens (id 0) in front; positions count real tokens only, as transformers'
  // generate does for left padding.
  torch::Tensor padded = torch::cat({torch::zeros({1, 3}, torch::kInt64), ids}, 1);
  ForwardOptions options;
  options.attention_mask = torch::tensor({0, 0, 0, 1, 1, 1, 1, 1, 1}, torch::kInt64).unsqueeze(0);
  options.position_ids = torch::tensor({0, 0, 0, 0, 1, 2, 3, 4, 5}, torch::kInt64).unsqueeze(0);
  torch::Tensor with_pads = model->logits(model->forward(padded, options));
  REQUIRE(torch::allclose(with_pads.narrow(1, 3, 6), alone, 1e-10, 1e-10));
  // Without the mask the pads leak into the real tokens.
  options.attention_mask = torch::Tensor();
  torch::Tensor leaky = model->logits(model->forward(padded, options));
  REQUIRE((leaky.narrow(1, 3, 6) - alone).abs().max().item<double>() > 1e-3);
}

TEST_CASE("the sliding window changes what distant positions see") {
  ModelConfig windowed = tiny_config(true), plain = tiny_config(false);
  auto a = random_model(windowed, 5, torch::kFloat64), b = random_model(plain, 5, torch::kFloat64);
  torch::NoGradGuard no_grad;
  torch::manual_seed(12);
  torch::Tensor ids = torch::randint(0, windowed.vocab_size, {1, 12}, torch::kInt64);
  torch::Tensor la = a->logits(a->forward(ids)), lb = b->logits(b->forward(ids));
  // Within the window (positions 0..4) both see everything; beyond it they differ.
  REQUIRE(torch::allclose(la.narrow(1, 0, 5), lb.narrow(1, 0, 5), 1e-10, 1e-10));
  REQUIRE((la.narrow(1, 5, 7) - lb.narrow(1, 5, 7)).abs().max().item<double>() > 1e-3);
}

TEST_CASE("attention mask: causal, padding keys hidden, window, diagonal always visible") {
  torch::Tensor valid = torch::tensor({1, 1, 0, 1}, torch::kInt64).unsqueeze(0);  // [1, 4]
  torch::Tensor mask = build_attention_mask(valid, 0, 4, std::nullopt, torch::kCPU);
  REQUIRE(mask.sizes() == c10::IntArrayRef({1, 1, 4, 4}));
  // Row q lists the keys q may see: causal, minus key 2 (padding), plus itself.
  const int expected[4][4] = {{1, 0, 0, 0}, {1, 1, 0, 0}, {1, 1, 1, 0}, {1, 1, 0, 1}};
  for (int q = 0; q < 4; ++q)
    for (int k = 0; k < 4; ++k) REQUIRE(mask[0][0][q][k].item<bool>() == (expected[q][k] == 1));
  torch::Tensor window = build_attention_mask({}, 0, 4, 2, torch::kCPU);
  REQUIRE(window[0][0][3][1].item<bool>() == false);  // 3 - 1 = 2 is outside a window of 2
  REQUIRE(window[0][0][3][2].item<bool>() == true);
  REQUIRE_FALSE(build_attention_mask({}, 0, 4, std::nullopt, torch::kCPU).defined());
}

TEST_CASE("RoPE frequencies match the formulas worked by hand") {
  ModelConfig c = tiny_config();  // head_dim 16 -> 8 frequencies
  c.rope_theta = 10000.0;
  torch::Tensor plain = rope_inverse_frequencies(c);
  // inv_freq[i] = 10000^(-2i/16): i = 1 -> 10^(-0.5) = 0.316228, i = 7 -> 10^(-3.5).
  REQUIRE(plain[1].item<double>() == Approx(0.3162278).epsilon(1e-6));
  REQUIRE(plain[7].item<double>() == Approx(3.1622777e-4).epsilon(1e-6));

  c.rope_scaling.type = "linear";
  c.rope_scaling.factor = 4.0;
  REQUIRE(rope_inverse_frequencies(c)[1].item<double>() == Approx(0.3162278 / 4).epsilon(1e-6));

  // llama3, original context 64, low 1, high 4, factor 8: wavelengths 2 pi / inv_freq.
  // i = 0: wavelen 6.28 < 64/4 = 16 -> kept, 1.0.
  // i = 7: wavelen 19869 > 64 -> divided by 8.
  // i = 2: inv_freq 0.1, wavelen 62.83, between 16 and 64 -> smoothed:
  //   s = (64 / 62.83 - 1) / (4 - 1) = 0.006197; (1 - s) * 0.1 / 8 + s * 0.1 = 0.0130429.
  c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 64};
  torch::Tensor scaled = rope_inverse_frequencies(c);
  REQUIRE(scaled[0].item<double>() == Approx(1.0).epsilon(1e-6));
  REQUIRE(scaled[7].item<double>() == Approx(3.1622777e-4 / 8).epsilon(1e-6));
  REQUIRE(scaled[2].item<double>() == Approx(0.0130429).epsilon(1e-4));
}

TEST_CASE("rotate_half RoPE rotates the two halves, not neighbouring pairs") {
  // One head of dim 4 at a position with angles (a, b) for the two frequencies:
  // out = [x0 cos a - x2 sin a, x1 cos b - x3 sin b, x2 cos a + x0 sin a, x3 cos b + x1 sin b]
  const double a = 0.3, b = 1.1;
  torch::Tensor x = torch::tensor({1.0, 2.0, 3.0, 4.0}, torch::kFloat64).view({1, 1, 1, 4});
  torch::Tensor angles = torch::tensor({a, b, a, b}, torch::kFloat64).view({1, 1, 4});
  torch::Tensor out = apply_rope(x, angles.cos(), angles.sin()).view(-1);
  REQUIRE(out[0].item<double>() == Approx(1 * std::cos(a) - 3 * std::sin(a)));
  REQUIRE(out[1].item<double>() == Approx(2 * std::cos(b) - 4 * std::sin(b)));
  REQUIRE(out[2].item<double>() == Approx(3 * std::cos(a) + 1 * std::sin(a)));
  REQUIRE(out[3].item<double>() == Approx(4 * std::cos(b) + 2 * std::sin(b)));
}

TEST_CASE("config.json errors name the file and the key") {
  using nlohmann::json;
  json good = {{"architectures", {"LlamaForCausalLM"}},
               {"hidden_size", 64},
               {"intermediate_size", 128},
               {"num_hidden_layers", 2},
               {"num_attention_heads", 4},
               {"num_key_value_heads", 2},
               {"vocab_size", 100}};
  REQUIRE(parse_config(good, "c.json").head_dim == 16);

  auto error_of = [](json j) {
    try {
      parse_config(j, "c.json");
    } catch (const zili::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  json arch = good;
  arch["architectures"] = {"GPT2LMHeadModel"};
  REQUIRE_THAT(error_of(arch), Catch::Contains("c.json") && Catch::Contains("GPT2LMHeadModel") &&
                                   Catch::Contains("LlamaForCausalLM, MistralForCausalLM"));
  json missing = good;
  missing.erase("hidden_size");
  REQUIRE_THAT(error_of(missing), Catch::Contains("missing required key \"hidden_size\""));
  json wrong_type = good;
  wrong_type["num_hidden_layers"] = "two";
  REQUIRE_THAT(error_of(wrong_type), Catch::Contains("\"num_hidden_layers\" must be an integer"));
  json rope = good;
  rope["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  REQUIRE_THAT(error_of(rope), Catch::Contains("rope type \"yarn\" is not supported"));
  json gqa = good;
  gqa["num_key_value_heads"] = 3;
  REQUIRE_THAT(error_of(gqa), Catch::Contains("multiple of num_key_value_heads"));
  json act = good;
  act["hidden_act"] = "gelu";
  REQUIRE_THAT(error_of(act), Catch::Contains("hidden_act \"gelu\""));
  json dtype = good;
  dtype["torch_dtype"] = "float8";
  REQUIRE_THAT(error_of(dtype), Catch::Contains("dtype \"float8\""));
}

TEST_CASE("Mistral's sliding_window: absent means 4096 (as transformers), null means none") {
  nlohmann::json mistral = {{"architectures", {"MistralForCausalLM"}},
                            {"hidden_size", 64},
                            {"intermediate_size", 128},
                            {"num_hidden_layers", 2},
                            {"num_attention_heads", 4},
                            {"vocab_size", 100}};
  REQUIRE(parse_config(mistral, "m.json").sliding_window == 4096);
  mistral["sliding_window"] = nullptr;
  REQUIRE_FALSE(parse_config(mistral, "m.json").sliding_window.has_value());
  mistral["sliding_window"] = 7;
  REQUIRE(parse_config(mistral, "m.json").sliding_window == 7);
  mistral["architectures"] = {"LlamaForCausalLM"};  // Llama has no window, whatever the key says
  REQUIRE_FALSE(parse_config(mistral, "m.json").sliding_window.has_value());
}

TEST_CASE("config.json written by zili reads back to the same config") {
  ModelConfig c = tiny_config(true);
  c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 64};
  c.eos_token_ids = {2, 5};
  c.dtype = torch::kBFloat16;
  ModelConfig back = parse_config(config_to_json(c), "round trip");
  REQUIRE(back.architecture == "MistralForCausalLM");
  REQUIRE(back.sliding_window == c.sliding_window);
  REQUIRE(back.rope_scaling.type == "llama3");
  REQUIRE(back.rope_scaling.original_max_position_embeddings == 64);
  REQUIRE(back.eos_token_ids == std::vector<int64_t>{2, 5});
  REQUIRE(back.dtype == torch::kBFloat16);
  REQUIRE(back.head_dim == c.head_dim);
}

TEST_CASE("loading reports missing, unexpected and misshapen tensors") {
  ModelConfig c = tiny_config();
  auto weights = random_weights(c, 1, torch::kFloat32);
  std::map<std::string, torch::Tensor> by_name(weights.begin(), weights.end());
  auto try_load = [&](const std::map<std::string, torch::Tensor>& tensors) {
    LlamaForCausalLM model(c);
    try {
      assign_from(*model, tensors, "ckpt");
    } catch (const zili::Error& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  REQUIRE(try_load(by_name) == "loaded");
  auto missing = by_name;
  missing.erase("model.layers.1.mlp.up_proj.weight");
  REQUIRE_THAT(try_load(missing),
               Catch::Contains("missing") && Catch::Contains("model.layers.1.mlp.up_proj.weight"));
  auto extra = by_name;
  extra["model.layers.7.self_attn.q_proj.weight"] = torch::zeros({64, 64});
  REQUIRE_THAT(try_load(extra), Catch::Contains("unexpected") &&
                                    Catch::Contains("model.layers.7.self_attn.q_proj.weight"));
  auto misshapen = by_name;
  misshapen["model.layers.0.self_attn.k_proj.weight"] = torch::zeros({64, 64});
  REQUIRE_THAT(try_load(misshapen), Catch::Contains("model.layers.0.self_attn.k_proj.weight") &&
                                        Catch::Contains("[64, 64]") && Catch::Contains("[32, 64]"));
}

TEST_CASE("base weights never require grad") {
  auto model = random_model(tiny_config(), 2);
  for (const auto& p : model->parameters()) REQUIRE_FALSE(p.requires_grad());
}

TEST_CASE("the device flag: parsed, checked against the machine, and the compute dtype it implies",
          "[model][device]") {
  using Catch::Contains;
  CHECK(resolve_device("cpu") == torch::Device(torch::kCPU));
  const bool gpu = torch::cuda::is_available();
  CHECK(resolve_device("auto") ==
        (gpu ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU)));
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", "cuda0", ""}) {
    INFO(bad);
    CHECK_THROWS_WITH(resolve_device(bad), Contains("expected auto, cpu, cuda or cuda:N"));
  }
  if (!gpu) {
    CHECK_THROWS_WITH(resolve_device("cuda"),
                      Contains("--device cuda: ") && Contains("use --device cpu"));
    CHECK_THROWS_WITH(resolve_device("cuda:0", "--ref-device"), Contains("--ref-device cuda:0"));
  } else {
    CHECK_THROWS_WITH(resolve_device("cuda:99"), Contains("choose one of them"));
  }
  CHECK(describe_device(torch::kCPU) == "cpu");

  const torch::Device cpu(torch::kCPU), cuda(torch::kCUDA, 0);
  CHECK(compute_dtype_for(cpu, torch::kBFloat16) == torch::kFloat32);
  CHECK(compute_dtype_for(cpu, torch::kFloat16) == torch::kFloat32);
  CHECK(compute_dtype_for(cpu, torch::kFloat64) == torch::kFloat64);
  CHECK(compute_dtype_for(cuda, torch::kBFloat16) == torch::kBFloat16);
  CHECK(compute_dtype_for(cuda, torch::kFloat16) == torch::kFloat16);
  CHECK(compute_dtype_for(cuda, torch::kFloat32) == torch::kFloat32);
}
