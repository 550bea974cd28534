// The decoder families beyond Llama on their own: KV-cache decoding equals the full forward
// for every family (windows, caps, q/k norms, fused projections included), Gemma's window
// alternation, config.json round trips and refusals, and the soft-capped chunked log-probs
// against plain autograd. Parity with transformers itself is in tests/peer.
#include <catch2/catch.hpp>

#include "model/config.h"
#include "model/logprobs.h"
#include "model/presets.h"
#include "model_fixtures.h"
#include "util/error.h"

using namespace zili::model;
using zili::test::random_model;

namespace {

const Family kFamilies[] = {Family::llama,  Family::mistral, Family::qwen2, Family::qwen3,
                            Family::gemma2, Family::gemma3,  Family::phi3};

// The tiny preset of `family` with a window of 5 where it slides (Qwen: layer 1 only), so
// 13 tokens reach past it.
ModelConfig tiny(Family family) {
  ModelConfig c = preset_config("tiny", 97, family);
  if (c.any_sliding_layer() || family == Family::qwen2 || family == Family::qwen3) {
    c.sliding_window = 5;
    if (family == Family::qwen2 || family == Family::qwen3) c.sliding_layers = {false, true};
  }
  return c;
}

// Gemma's norm weights start at 0 (the identity through 1 + w): give every norm some spread.
LlamaForCausalLM perturbed_model(const ModelConfig& c, uint64_t seed) {
  auto model = random_model(c, seed, torch::kFloat64);
  torch::NoGradGuard no_grad;
  torch::manual_seed(static_cast<int64_t>(seed));
  for (auto& item : model->named_parameters())
    if (item.key().ends_with("norm.weight"))
      item.value().add_(0.3 * torch::randn_like(item.value()));
  return model;
}

std::string error_of(const nlohmann::json& j) {
  try {
    parse_config(j, "c.json");
  } catch (const zili::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("every family: KV-cache decoding gives the full forward's logits") {
  for (Family family : kFamilies) {
    DYNAMIC_SECTION(arch_name(family)) {
      const ModelConfig c = tiny(family);
      auto model = perturbed_model(c, 3);
      torch::NoGradGuard no_grad;
      torch::manual_seed(11);
      torch::Tensor ids = torch::randint(0, c.vocab_size, {2, 13}, torch::kInt64);
      torch::Tensor full = model->logits(model->forward(ids));  // [2, 13, V]
      REQUIRE(full.std().item<double>() > 0.5);
      KVCache cache(c.num_hidden_layers);
      ForwardOptions options;
      options.cache = &cache;
      torch::Tensor first = model->logits(model->forward(ids.narrow(1, 0, 4), options));
      REQUIRE(torch::allclose(first, full.narrow(1, 0, 4), 1e-10, 1e-10));
      for (int64_t t = 4; t < 13; ++t) {
        torch::Tensor step = model->logits(model->forward(ids.narrow(1, t, 1), options));
        INFO("position " << t);
        REQUIRE(torch::allclose(step.select(1, 0), full.select(1, t), 1e-10, 1e-10));
      }
    }
  }
}

TEST_CASE("Gemma 2 slides on even layers and attends globally on odd ones") {
  ModelConfig c = tiny(Family::gemma2);
  REQUIRE(c.sliding_layers == std::vector<bool>{true, false});
  REQUIRE(c.attn_logit_softcapping == 50.0);
  REQUIRE(c.final_logit_softcapping == 30.0);
  ModelConfig gemma3 = preset_config("mini", 97, Family::gemma3);  // 4 layers: pattern 4
  REQUIRE(gemma3.sliding_layers == std::vector<bool>{true, true, true, false});
  REQUIRE_FALSE(gemma3.attn_logit_softcapping);
  REQUIRE(gemma3.rope_local_theta == 10000.0);
  REQUIRE(gemma3.rope_theta == 1e6);
  // The window matters: the same weights without it give other logits past position 5.
  auto windowed = perturbed_model(c, 5);
  ModelConfig unwindowed = c;
  unwindowed.sliding_window.reset();
  LlamaForCausalLM plain(unwindowed);
  {
    torch::NoGradGuard no_grad;
    auto from = windowed->named_parameters();
    for (auto& item : plain->named_parameters()) item.value().set_data(from[item.key()]);
  }
  plain->model->compute_dtype = torch::kFloat64;
  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::randint(0, c.vocab_size, {1, 12}, torch::kInt64);
  torch::Tensor a = windowed->logits(windowed->forward(ids)),
                b = plain->logits(plain->forward(ids));
  REQUIRE(torch::allclose(a.narrow(1, 0, 5), b.narrow(1, 0, 5), 1e-10, 1e-10));
  REQUIRE((a.narrow(1, 5, 7) - b.narrow(1, 5, 7)).abs().max().item<double>() > 1e-3);
}

TEST_CASE("every family's config.json written by zili reads back to the same options") {
  for (Family family : kFamilies) {
    DYNAMIC_SECTION(arch_name(family)) {
      const ModelConfig c = tiny(family);
      const ModelConfig back = parse_config(config_to_json(c), "round trip");
      REQUIRE(back.family == c.family);
      REQUIRE(back.architecture == c.architecture);
      REQUIRE(back.sliding_window == c.sliding_window);
      for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer)
        REQUIRE(back.layer_is_sliding(layer) == c.layer_is_sliding(layer));
      REQUIRE(back.qk_norm == c.qk_norm);
      REQUIRE(back.norm_weight_offset == c.norm_weight_offset);
      REQUIRE(back.attention_bias == c.attention_bias);
      REQUIRE(back.o_proj_bias == c.o_proj_bias);
      REQUIRE(back.final_logit_softcapping == c.final_logit_softcapping);
      REQUIRE(back.rope_local_theta == c.rope_local_theta);
      REQUIRE(back.tie_word_embeddings == c.tie_word_embeddings);
      REQUIRE(parameter_shapes(back).size() == parameter_shapes(c).size());
    }
  }
}

TEST_CASE("Qwen2's window: only with use_sliding_window, from max_window_layers on") {
  nlohmann::json qwen = {{"architectures", {"Qwen2ForCausalLM"}},
                         {"hidden_size", 64},
                         {"intermediate_size", 128},
                         {"num_hidden_layers", 4},
                         {"num_attention_heads", 4},
                         {"vocab_size", 100}};
  ModelConfig c = parse_config(qwen, "q.json");
  REQUIRE(c.attention_bias);
  REQUIRE_FALSE(c.o_proj_bias);
  REQUIRE_FALSE(c.any_sliding_layer());
  qwen["use_sliding_window"] = true;
  qwen["sliding_window"] = 8;
  qwen["max_window_layers"] = 2;
  c = parse_config(qwen, "q.json");
  REQUIRE(c.sliding_layers == std::vector<bool>{false, false, true, true});
  REQUIRE(c.sliding_window == 8);
}

TEST_CASE("unsupported architectures and options are refused by name") {
  nlohmann::json good = {{"hidden_size", 64},
                         {"intermediate_size", 128},
                         {"num_hidden_layers", 2},
                         {"num_attention_heads", 4},
                         {"vocab_size", 100}};
  nlohmann::json moe = good;
  moe["architectures"] = {"Qwen2MoeForCausalLM"};
  REQUIRE_THAT(error_of(moe),
               Catch::Contains("Qwen2MoeForCausalLM") && Catch::Contains("mixture-of-experts"));
  nlohmann::json vision = good;
  vision["architectures"] = {"Gemma3ForConditionalGeneration"};
  REQUIRE_THAT(error_of(vision), Catch::Contains("text model only"));
  nlohmann::json phi = good;
  phi["architectures"] = {"Phi3ForCausalLM"};
  phi["rope_scaling"] = {{"type", "longrope"}, {"short_factor", {1.0}}, {"long_factor", {2.0}}};
  REQUIRE_THAT(error_of(phi),
               Catch::Contains("rope type \"longrope\"") && Catch::Contains("not implemented"));
  phi["rope_scaling"] = {{"rope_type", "default"}, {"partial_rotary_factor", 0.75}};
  REQUIRE_THAT(error_of(phi), Catch::Contains("partial_rotary_factor"));
  nlohmann::json gemma = good;
  gemma["architectures"] = {"Gemma2ForCausalLM"};
  gemma["hidden_activation"] = "gelu";
  REQUIRE_THAT(error_of(gemma), Catch::Contains("hidden_activation \"gelu\""));
  gemma.erase("hidden_activation");
  gemma["layer_types"] = {"sliding_attention", "chunked_attention"};
  REQUIRE_THAT(error_of(gemma), Catch::Contains("\"chunked_attention\""));
  nlohmann::json qwen = good;
  qwen["architectures"] = {"Qwen3ForCausalLM"};
  qwen["layer_types"] = {"sliding_attention", "full_attention"};
  REQUIRE_THAT(error_of(qwen), Catch::Contains("use_sliding_window is false"));
  REQUIRE_THROWS_WITH(parse_arch_name("gpt2"), Catch::Contains("llama, mistral, qwen2"));
}

TEST_CASE("target_logprobs with a soft-cap: chunked forward and backward equal autograd") {
  torch::manual_seed(21);
  const int64_t N = 19, C = 12, V = 41;
  const double cap = 3.0;
  const torch::Tensor hidden = torch::randn({N, C}, torch::kFloat64);
  const torch::Tensor weight = torch::randn({V, C}, torch::kFloat64);  // logits far past the cap
  const torch::Tensor targets = torch::randint(0, V, {N}, torch::kInt64);
  const torch::Tensor g = torch::randn({N}, torch::kFloat64);
  const auto run = [&](int64_t chunk, double softcap) {
    torch::Tensor h = hidden.clone().requires_grad_(true);
    torch::Tensor w = weight.clone().requires_grad_(true);
    torch::Tensor lp = target_logprobs(h, w, targets, chunk, softcap);
    (lp * g).sum().backward();
    return std::make_tuple(lp.detach(), h.grad(), w.grad());
  };
  // The reference by hand: log_softmax of cap tanh(z / cap).
  const torch::Tensor z = torch::tanh(hidden.mm(weight.t()) / cap) * cap;
  const torch::Tensor by_hand = torch::log_softmax(z, 1).gather(1, targets.unsqueeze(1)).squeeze(1);
  const auto [ref_lp, ref_dh, ref_dw] = run(0, cap);
  REQUIRE(torch::allclose(ref_lp, by_hand, 1e-12, 1e-12));
  for (int64_t chunk : {1, 4, 19, 32}) {
    INFO("chunk " << chunk);
    const auto [lp, dh, dw] = run(chunk, cap);
    REQUIRE(torch::allclose(lp, ref_lp, 1e-12, 1e-12));
    REQUIRE(torch::allclose(dh, ref_dh, 1e-12, 1e-12));
    REQUIRE(torch::allclose(dw, ref_dw, 1e-12, 1e-12));
  }
  // The cap changes the numbers (it is not silently ignored).
  const auto [uncapped, dh0, dw0] = run(4, 0.0);
  REQUIRE((uncapped - ref_lp).abs().max().item<double>() > 1e-2);
}
