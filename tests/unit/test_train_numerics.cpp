// The numerics under training: chunked target log-probs against the plain ops, gradient
// checkpointing against the plain backward, packed rows against their examples alone, and the
// loss mask deciding which labels can move a gradient.
#include <catch2/catch.hpp>

#include "model_fixtures.h"

#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <functional>

#include "data/batching.h"
#include "io/peft_adapter.h"
#include "lora/lora_model.h"
#include "model/llama.h"
#include "model/load.h"
#include "model/logprobs.h"
#include "model/presets.h"
#include "model/random_init.h"
#include "train/grad_checkpoint.h"
#include "train/sft_loss.h"

using namespace zili;

namespace {

constexpr int64_t kVocab = 97;

model::ModelConfig tiny(std::optional<int64_t> sliding_window = std::nullopt) {
  model::ModelConfig c = model::preset_config("tiny", kVocab);
  if (sliding_window) {
    c.architecture = "MistralForCausalLM";
    c.sliding_window = sliding_window;
  }
  return c;
}

using test::random_model;

// LoRA on every linear with dropout, in training mode, A and B random (B = 0 would leave
// every A without a gradient) in `dtype`.
lora::LoraModel random_lora(model::LlamaForCausalLMImpl& net, double dropout,
                            c10::ScalarType dtype) {
  io::AdapterConfig config;
  config.target_modules = {"all-linear"};
  config.r = 4;
  config.lora_dropout = dropout;
  lora::LoraModel lora = lora::LoraModel::create(net, config, 9);
  for (const auto& e : lora.entries()) {
    e.adapter->lora_a = (torch::randn_like(e.adapter->lora_a) * 0.3).to(dtype).requires_grad_();
    e.adapter->lora_b = (torch::randn_like(e.adapter->lora_b) * 0.3).to(dtype).requires_grad_();
  }
  lora.set_training(true);
  return lora;
}

// One unpacked batch of random rows, right-padded to the longest: labels shifted, the loss on
// a random half of the real positions that have a next token (at least the first).
data::Batch random_batch(const std::vector<int64_t>& lengths, uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t B = static_cast<int64_t>(lengths.size());
  const int64_t T = *std::max_element(lengths.begin(), lengths.end());
  data::Batch batch;
  batch.input_ids = torch::zeros({B, T}, torch::kInt64);
  batch.attention_mask = torch::zeros({B, T}, torch::kInt64);
  batch.labels = torch::zeros({B, T}, torch::kInt64);
  batch.loss_mask = torch::zeros({B, T}, torch::kBool);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = lengths[b];
    torch::Tensor ids = torch::randint(3, kVocab, {L}, torch::kInt64);
    batch.input_ids[b].narrow(0, 0, L).copy_(ids);
    batch.attention_mask[b].narrow(0, 0, L).fill_(1);
    batch.labels[b].narrow(0, 0, L - 1).copy_(ids.narrow(0, 1, L - 1));
    batch.loss_mask[b].narrow(0, 0, L - 1).copy_(torch::rand({L - 1}) < 0.5);
    batch.loss_mask[b][0] = true;
  }
  batch.position_ids = torch::arange(T).unsqueeze(0).expand({B, T}).contiguous();
  batch.real_tokens = batch.attention_mask.sum().item<int64_t>();
  batch.target_tokens = batch.loss_mask.sum().item<int64_t>();
  return batch;
}

// Examples (token lists) laid one after another in one row, then `pads` pad tokens: segment
// ids 0, 1, ... (-1 on padding), positions restarting at 0, the loss on every next token
// within an example.
data::Batch packed_row(const std::vector<torch::Tensor>& examples, int64_t pads) {
  std::vector<torch::Tensor> ids, segments, positions, labels, loss;
  for (size_t i = 0; i < examples.size(); ++i) {
    const int64_t L = examples[i].size(0);
    ids.push_back(examples[i]);
    segments.push_back(torch::full({L}, static_cast<int64_t>(i), torch::kInt64));
    positions.push_back(torch::arange(L));
    labels.push_back(
        torch::cat({examples[i].narrow(0, 1, L - 1), torch::zeros({1}, torch::kInt64)}));
    loss.push_back(torch::arange(L) < L - 1);
  }
  ids.push_back(torch::zeros({pads}, torch::kInt64));
  segments.push_back(torch::full({pads}, -1, torch::kInt64));
  positions.push_back(torch::zeros({pads}, torch::kInt64));
  labels.push_back(torch::zeros({pads}, torch::kInt64));
  loss.push_back(torch::zeros({pads}, torch::kBool));
  data::Batch batch;
  batch.input_ids = torch::cat(ids).unsqueeze(0);
  batch.segment_ids = torch::cat(segments).unsqueeze(0);
  batch.position_ids = torch::cat(positions).unsqueeze(0);
  batch.labels = torch::cat(labels).unsqueeze(0);
  batch.loss_mask = torch::cat(loss).unsqueeze(0);
  batch.attention_mask = (batch.segment_ids >= 0).to(torch::kInt64);
  batch.real_tokens = batch.attention_mask.sum().item<int64_t>();
  batch.target_tokens = batch.loss_mask.sum().item<int64_t>();
  return batch;
}

// The loss and the gradient of every tensor in `params` after one backward, with the random
// generator seeded first (LoRA dropout). Gradients are cleared before and after.
struct LossAndGrads {
  torch::Tensor loss;
  std::vector<torch::Tensor> grads;
};
LossAndGrads loss_and_grads(model::LlamaForCausalLMImpl& net, const data::Batch& batch,
                            int64_t chunk_tokens, const std::vector<torch::Tensor>& params,
                            uint64_t seed = 5) {
  for (auto p : params) p.mutable_grad() = torch::Tensor();
  torch::manual_seed(seed);
  LossAndGrads out;
  out.loss = train::sft_nll_sum(net, batch, chunk_tokens);
  out.loss.backward();
  out.loss = out.loss.detach();
  for (auto p : params) {
    REQUIRE(p.grad().defined());
    out.grads.push_back(p.grad().clone());
    p.mutable_grad() = torch::Tensor();
  }
  return out;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

void require_close(const LossAndGrads& a, const LossAndGrads& b, double tolerance) {
  REQUIRE(a.grads.size() == b.grads.size());
  INFO("loss " << a.loss.item<double>() << " vs " << b.loss.item<double>());
  REQUIRE(torch::allclose(a.loss, b.loss, tolerance, tolerance));
  for (size_t i = 0; i < a.grads.size(); ++i) {
    INFO("gradient " << i << ": max |difference| " << max_abs_diff(a.grads[i], b.grads[i]));
    REQUIRE(torch::allclose(a.grads[i], b.grads[i], tolerance, tolerance));
  }
}

// Every gradient moves: a test comparing zeros with zeros proves nothing.
void require_nonzero(const LossAndGrads& r) {
  for (size_t i = 0; i < r.grads.size(); ++i) {
    INFO("gradient " << i);
    REQUIRE(r.grads[i].abs().max().item<double>() > 1e-6);
  }
}

std::vector<torch::Tensor> all_parameters_trainable(model::LlamaForCausalLMImpl& net) {
  std::vector<torch::Tensor> params = net.parameters();
  for (auto& p : params) p.requires_grad_(true);
  return params;
}

// log_softmax of the logits of `batch`'s rows: [B, T, V]. No graph.
torch::Tensor logprob_rows(model::LlamaForCausalLMImpl& net, const torch::Tensor& ids,
                           const model::ForwardOptions& options = {}) {
  torch::NoGradGuard no_grad;
  return torch::log_softmax(net.logits(net.forward(ids, options)), -1);
}

}  // namespace

TEST_CASE("target_logprobs: chunked forward and backward equal the plain ops") {
  struct Case {
    const char* name;
    c10::ScalarType hidden_dtype, weight_dtype;
    int64_t V;
    double tolerance, weight_grad_tolerance;
  };
  // The last case has more vocabulary rows than one slice of the narrow weight's cast.
  const Case cases[] = {
      {"float64", torch::kFloat64, torch::kFloat64, 53, 1e-12, 1e-12},
      {"float32", torch::kFloat32, torch::kFloat32, 53, 2e-5, 2e-5},
      {"bf16 weight", torch::kFloat32, torch::kBFloat16, 53, 2e-5, 1e-2},
      {"bf16 weight, V over a slice", torch::kFloat32, torch::kBFloat16, 8300, 2e-5, 1e-2}};
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      torch::manual_seed(21);
      const int64_t N = 37, C = 24;
      const torch::Tensor hidden = torch::randn({N, C}, torch::kFloat64).to(c.hidden_dtype);
      const torch::Tensor weight =
          (torch::randn({c.V, C}, torch::kFloat64) * 0.5).to(c.weight_dtype);
      const torch::Tensor targets = torch::randint(0, c.V, {N}, torch::kInt64);
      const torch::Tensor g = torch::randn({N}, torch::kFloat64);  // dL/dlp

      const auto run = [&](int64_t chunk, bool weight_grad) {
        torch::Tensor h = hidden.clone().requires_grad_(true);
        torch::Tensor w = weight.clone().requires_grad_(weight_grad);
        torch::Tensor lp = model::target_logprobs(h, w, targets, chunk);
        (lp * g.to(lp.scalar_type())).sum().backward();
        return std::make_tuple(lp.detach(), h.grad(), w.grad());
      };
      const auto [ref_lp, ref_dh, ref_dw] = run(0, true);
      REQUIRE(ref_lp.scalar_type() == torch::promote_types(c.hidden_dtype, torch::kFloat32));
      REQUIRE(ref_lp.max().item<double>() < 0);
      // The reference itself, one row by hand: z[t] - log Σ exp z.
      const torch::Tensor z0 = torch::mv(weight.to(torch::kFloat64), hidden[0].to(torch::kFloat64));
      const double by_hand = (z0[targets[0].item<int64_t>()] - z0.exp().sum().log()).item<double>();
      REQUIRE(ref_lp[0].item<double>() == Approx(by_hand).epsilon(1e-5));

      for (int64_t chunk : {1, 5, 8, 36, 37, 64}) {
        INFO("chunk " << chunk);
        const auto [lp, dh, dw] = run(chunk, true);
        REQUIRE(lp.scalar_type() == ref_lp.scalar_type());
        REQUIRE(dh.scalar_type() == hidden.scalar_type());
        REQUIRE(dw.scalar_type() == weight.scalar_type());
        INFO("max |dlp| " << max_abs_diff(lp, ref_lp) << ", |dh| " << max_abs_diff(dh, ref_dh)
                          << ", |dW| " << max_abs_diff(dw, ref_dw));
        REQUIRE(torch::allclose(lp, ref_lp, c.tolerance, c.tolerance));
        REQUIRE(torch::allclose(dh, ref_dh, c.tolerance, c.tolerance));
        REQUIRE(torch::allclose(dw.to(torch::kFloat64), ref_dw.to(torch::kFloat64),
                                c.weight_grad_tolerance, c.weight_grad_tolerance));
      }
      // A frozen weight (LoRA) gets no gradient; hidden's is the same.
      const auto [lp, dh, dw] = run(8, false);
      REQUIRE_FALSE(dw.defined());
      REQUIRE(torch::allclose(dh, ref_dh, c.tolerance, c.tolerance));
    }
  }
}

TEST_CASE("target_logprobs: no positions is an empty result, not an error") {
  const torch::Tensor hidden = torch::randn({0, 8}).requires_grad_(true);
  const torch::Tensor weight = torch::randn({11, 8});
  const torch::Tensor targets = torch::zeros({0}, torch::kInt64);
  for (int64_t chunk : {0, 4}) {
    torch::Tensor lp = model::target_logprobs(hidden, weight, targets, chunk);
    REQUIRE(lp.numel() == 0);
    lp.sum().backward();
  }
  REQUIRE_THROWS_WITH(model::target_logprobs(hidden, weight, torch::zeros({3}, torch::kInt64), 4),
                      Catch::Contains("targets expected [0]"));
}

TEST_CASE("gradient checkpointing gives the plain backward's loss and gradients") {
  const data::Batch batch = random_batch({11, 8, 11}, 31);

  SECTION("LoRA with dropout, training mode") {
    auto net = random_model(tiny(), 3, torch::kFloat64);
    torch::manual_seed(4);
    lora::LoraModel lora = random_lora(*net, 0.2, torch::kFloat64);
    const std::vector<torch::Tensor> params = lora.parameters();
    REQUIRE(params.size() == 28);

    train::set_grad_checkpointing(*net->model, false);
    const LossAndGrads plain = loss_and_grads(*net, batch, 16, params);
    torch::Tensor after_plain = torch::rand({4});  // where the generator was left
    require_nonzero(plain);

    train::set_grad_checkpointing(*net->model, true);
    const LossAndGrads checkpointed = loss_and_grads(*net, batch, 16, params);
    torch::Tensor after_checkpointed = torch::rand({4});
    require_close(plain, checkpointed, 1e-10);
    // The recompute puts the generator back: training draws on as without checkpointing.
    REQUIRE(torch::equal(after_plain, after_checkpointed));

    // Dropout does matter here: other masks, other gradients. So the match above needs the
    // recompute to draw the forward's masks.
    const LossAndGrads other_masks = loss_and_grads(*net, batch, 16, params, /*seed=*/6);
    REQUIRE(max_abs_diff(other_masks.grads[0], plain.grads[0]) > 1e-4);
  }

  SECTION("full fine-tuning: every weight trains") {
    auto net = random_model(tiny(), 3, torch::kFloat64);
    const std::vector<torch::Tensor> params = all_parameters_trainable(*net);
    train::set_grad_checkpointing(*net->model, false);
    const LossAndGrads plain = loss_and_grads(*net, batch, 16, params);
    require_nonzero(plain);
    train::set_grad_checkpointing(*net->model, true);
    require_close(plain, loss_and_grads(*net, batch, 16, params), 1e-10);
  }
}

TEST_CASE("gradient checkpointing: layers run through the checkpoint, and not under no-grad") {
  auto net = random_model(tiny(), 3, torch::kFloat64);
  torch::manual_seed(4);
  random_lora(*net, 0.0, torch::kFloat64);
  train::set_grad_checkpointing(*net->model, true);
  REQUIRE(net->model->layer_runner);
  torch::Tensor x = torch::randn({1, 5, 64}, torch::kFloat64);
  model::AttentionInputs in;
  std::tie(in.cos, in.sin) =
      model::Rope(net->config()).cos_sin(torch::arange(5).unsqueeze(0), torch::kFloat64);
  auto& layer = *net->model->layers[0]->as<model::DecoderLayer>();
  const torch::Tensor y = net->model->layer_runner->run(layer, x, in);
  REQUIRE(y.grad_fn());
  REQUIRE_THAT(y.grad_fn()->name(), Catch::Contains("CheckpointedLayer"));
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor plain = net->model->layer_runner->run(layer, x, in);
    REQUIRE_FALSE(plain.requires_grad());
    REQUIRE(torch::equal(plain, y.detach()));
  }
  train::set_grad_checkpointing(*net->model, false);
  REQUIRE_FALSE(net->model->layer_runner);
}

TEST_CASE("packed rows: each token's log-probs are those of its example alone") {
  for (std::optional<int64_t> window : {std::optional<int64_t>(), std::optional<int64_t>(3)}) {
    DYNAMIC_SECTION((window ? "mistral, sliding window 3" : "llama")) {
      auto net = random_model(tiny(window), 7, torch::kFloat32);
      torch::manual_seed(17);
      std::vector<torch::Tensor> examples;
      for (int64_t L : {5, 7, 4}) examples.push_back(torch::randint(3, kVocab, {L}, torch::kInt64));
      const data::Batch packed = packed_row(examples, 2);

      model::ForwardOptions options;
      options.position_ids = packed.position_ids;
      options.attention_mask = packed.attention_mask;
      options.segment_ids = packed.segment_ids;
      const torch::Tensor rows = logprob_rows(*net, packed.input_ids, options)[0];  // [T, V]
      model::ForwardOptions unsegmented = options;
      unsegmented.segment_ids = torch::Tensor();
      const torch::Tensor leaky = logprob_rows(*net, packed.input_ids, unsegmented)[0];

      int64_t start = 0;
      for (size_t i = 0; i < examples.size(); ++i) {
        const int64_t L = examples[i].size(0);
        const torch::Tensor alone = logprob_rows(*net, examples[i].unsqueeze(0))[0];  // [L, V]
        INFO("example " << i << ": max |difference| "
                        << max_abs_diff(rows.narrow(0, start, L), alone));
        REQUIRE(torch::allclose(rows.narrow(0, start, L), alone, 1e-5, 1e-5));
        // Without the segments, every example after the first sees the ones before it.
        if (i > 0) REQUIRE(max_abs_diff(leaky.narrow(0, start, L), alone) > 1e-2);
        start += L;
      }

      // And the loss of the packed row is the sum of the examples' losses alone.
      double alone_sum = 0;
      for (const auto& e : examples)
        alone_sum += train::sft_nll_sum(*net, packed_row({e}, 0), 8).item<double>();
      REQUIRE(train::sft_nll_sum(*net, packed, 8).item<double>() ==
              Approx(alone_sum).epsilon(1e-5));
    }
  }
}

TEST_CASE("the loss mask decides which labels can move a gradient") {
  auto net = random_model(tiny(), 11, torch::kFloat32);
  torch::manual_seed(12);
  lora::LoraModel lora = random_lora(*net, 0.1, torch::kFloat32);
  const std::vector<torch::Tensor> params = lora.parameters();
  const data::Batch batch = random_batch({9, 12}, 13);
  // A position with a real next token outside the loss, and one inside it.
  const torch::Tensor real = batch.labels != 0;
  const torch::Tensor outside = (real & batch.loss_mask.logical_not()).nonzero();
  const torch::Tensor inside = batch.loss_mask.nonzero();
  REQUIRE(outside.size(0) > 0);

  for (int64_t chunk : {0, 4}) {
    INFO("chunk " << chunk);
    const LossAndGrads base = loss_and_grads(*net, batch, chunk, params);
    require_nonzero(base);
    const auto relabelled = [&](const torch::Tensor& at) {
      data::Batch changed = batch;
      changed.labels = batch.labels.clone();
      const int64_t b = at[0].item<int64_t>(), t = at[1].item<int64_t>();
      changed.labels[b][t] = (changed.labels[b][t].item<int64_t>() + 1) % kVocab;
      return loss_and_grads(*net, changed, chunk, params);
    };
    const LossAndGrads masked = relabelled(outside[0]);
    REQUIRE(torch::equal(masked.loss, base.loss));
    for (size_t i = 0; i < params.size(); ++i)
      REQUIRE(torch::equal(masked.grads[i], base.grads[i]));

    const LossAndGrads counted = relabelled(inside[inside.size(0) / 2]);
    REQUIRE_FALSE(torch::equal(counted.loss, base.loss));
    double moved = 0;
    for (size_t i = 0; i < params.size(); ++i)
      moved = std::max(moved, max_abs_diff(counted.grads[i], base.grads[i]));
    REQUIRE(moved > 1e-6);
  }
}

TEST_CASE("sft_nll_sum: chunked and unchunked agree in value and gradients") {
  const data::Batch batch = random_batch({13, 6, 10}, 41);
  SECTION("LoRA") {
    auto net = random_model(tiny(), 5, torch::kFloat64);
    torch::manual_seed(6);
    lora::LoraModel lora = random_lora(*net, 0.1, torch::kFloat64);
    const LossAndGrads reference = loss_and_grads(*net, batch, 0, lora.parameters());
    require_nonzero(reference);
    // An independent check of the value: the same sum from the [B, T, V] logits.
    {
      torch::NoGradGuard no_grad;
      torch::manual_seed(5);
      model::ForwardOptions options;
      options.attention_mask = batch.attention_mask;
      options.position_ids = batch.position_ids;
      torch::Tensor lp = torch::log_softmax(net->logits(net->forward(batch.input_ids, options)), -1)
                             .gather(-1, batch.labels.unsqueeze(-1))
                             .squeeze(-1);  // [B, T]
      REQUIRE(-lp.masked_select(batch.loss_mask).sum().item<double>() ==
              Approx(reference.loss.item<double>()).epsilon(1e-12));
    }
    for (int64_t chunk : {1, 7, 256}) {
      INFO("chunk " << chunk);
      require_close(reference, loss_and_grads(*net, batch, chunk, lora.parameters()), 1e-10);
    }
  }
  for (bool tied : {false, true}) {
    DYNAMIC_SECTION("full fine-tuning, " << (tied ? "tied embeddings" : "lm_head") << " included") {
      model::ModelConfig c = tiny();
      c.tie_word_embeddings = tied;
      auto net = random_model(c, 5, torch::kFloat64);
      const std::vector<torch::Tensor> params = all_parameters_trainable(*net);
      REQUIRE(params.size() == (tied ? 20u : 21u));
      const LossAndGrads reference = loss_and_grads(*net, batch, 0, params);
      require_nonzero(reference);
      for (int64_t chunk : {1, 7}) {
        INFO("chunk " << chunk);
        require_close(reference, loss_and_grads(*net, batch, chunk, params), 1e-10);
      }
    }
  }
}

// Not a test: peak memory of target_logprobs forward + backward at V = 32000, N = 2048,
// C = 512 (fp32; the weight frozen as under LoRA, or trained with ZILI_BENCH_WEIGHT_GRAD=1).
// Run each variant in its own process, since the peak is the process's high-water mark:
//   test_train_numerics "[.bench]" -c "chunk 256"   (or "unchunked", "chunk 1024")
TEST_CASE("bench: target_logprobs peak memory", "[.bench]") {
  const auto current_rss_mb = [] {
    std::ifstream statm("/proc/self/statm");
    long pages = 0, resident = 0;
    statm >> pages >> resident;
    return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1048576.0;
  };
  const auto peak_rss_mb = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
  };
  const auto measure = [&](int64_t chunk, bool weight_grad) {
    torch::manual_seed(1);
    torch::Tensor hidden = torch::randn({2048, 512}).requires_grad_(true);
    torch::Tensor weight = (torch::randn({32000, 512}) * 0.02).requires_grad_(weight_grad);
    torch::Tensor targets = torch::randint(0, 32000, {2048}, torch::kInt64);
    const double before = current_rss_mb();
    model::target_logprobs(hidden, weight, targets, chunk).sum().backward();
    std::printf(
        "chunk %lld, weight grad %d: inputs in memory %.0f MB, peak %.0f MB, peak above "
        "inputs %.0f MB\n",
        static_cast<long long>(chunk), weight_grad ? 1 : 0, before, peak_rss_mb(),
        peak_rss_mb() - before);
  };
  const bool weight_grad = std::getenv("ZILI_BENCH_WEIGHT_GRAD") != nullptr;
  SECTION("unchunked") {
    measure(0, weight_grad);
  }
  SECTION("chunk 256") {
    measure(256, weight_grad);
  }
  SECTION("chunk 1024") {
    measure(1024, weight_grad);
  }
}
