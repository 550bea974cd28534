// One DPO step of a random-weight model, timed as `zili dpo` runs it, and its model FLOPs.
#include <map>

#include "bench/bench.h"
#include "dpo/preference_loss.h"
#include "lora/lora_model.h"
#include "model/device.h"
#include "model/fused.h"
#include "model/load.h"
#include "train/grad_checkpoint.h"
#include "train/metrics_log.h"
#include "train/optimizer_state.h"
#include "train/sequence_logps.h"

#ifdef ZILI_HAS_CUDA_KERNELS
#include "kernels/cuda_info.h"
#endif

namespace zili::bench {
namespace {

constexpr int64_t kLossChunk = 256;  // --loss-chunk's default

// Every weight random on `device` in `dtype`, drawn there (a 7B model is 13 GB): linears and
// the embedding ~ N(0, 0.02^2) as transformers initialises them, norm weights 1.
model::LlamaForCausalLM random_model(const model::ModelConfig& config, torch::Device device,
                                     c10::ScalarType dtype) {
  model::LlamaForCausalLM net(config);
  std::map<std::string, std::vector<int64_t>> shapes;
  std::vector<std::string> names;
  for (const auto& p : model::parameter_shapes(config)) {
    shapes[p.name] = p.shape;
    names.push_back(p.name);
  }
  const auto options = torch::TensorOptions().device(device).dtype(dtype);
  model::LoadOptions load;
  load.dtype = dtype;
  load.device = device;
  torch::NoGradGuard no_grad;
  model::assign_parameters(
      *net,
      [&](const std::string& name) -> std::optional<torch::Tensor> {
        const auto& shape = shapes.at(name);
        if (name.ends_with("norm.weight")) return torch::ones(shape, options);
        if (name.ends_with(".bias")) return torch::zeros(shape, options);
        return torch::randn(shape, options).mul_(0.02);
      },
      names, "random weights", load);
  return net;
}

// R = 2P rows of T random tokens: rows p and P + p share their first T/2 tokens (the prompt)
// and differ after; the loss covers the completion's T - T/2 positions of each row.
data::Batch random_pair_batch(int64_t pairs, int64_t T, int64_t vocab, uint64_t seed) {
  const int64_t R = 2 * pairs, prompt = T / 2;
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::Tensor ids = torch::randint(3, vocab, {R, T}, generator, torch::kInt64);  // [R, T]
  ids.narrow(0, pairs, pairs)
      .narrow(1, 0, prompt)
      .copy_(ids.narrow(0, 0, pairs).narrow(1, 0, prompt));
  data::Batch batch;
  batch.input_ids = ids;
  batch.attention_mask = torch::ones({R, T}, torch::kInt64);
  batch.position_ids = torch::arange(T, torch::kInt64).unsqueeze(0).expand({R, T}).contiguous();
  // Shifted labels: position t predicts token t + 1.
  batch.labels = torch::zeros({R, T}, torch::kInt64);
  batch.labels.narrow(1, 0, T - 1).copy_(ids.narrow(1, 1, T - 1));
  batch.loss_mask = torch::zeros({R, T}, torch::kBool);
  batch.loss_mask.narrow(1, prompt - 1, T - prompt).fill_(true);
  batch.real_tokens = R * T;
  batch.target_tokens = R * (T - prompt);
  batch.pairs = pairs;
  batch.completion_tokens = torch::full({R}, T - prompt, torch::kInt64);
  return batch;
}

int64_t peak_bytes([[maybe_unused]] torch::Device device) {
#ifdef ZILI_HAS_CUDA_KERNELS
  if (device.is_cuda()) return kernels::cuda_peak_allocated_bytes(device.index());
#endif
  return static_cast<int64_t>(train::peak_rss_mib() * (1 << 20));
}

}  // namespace

double dpo_step_flops(const model::ModelConfig& c, const StepSettings& s) {
  const double L = static_cast<double>(c.num_hidden_layers), C = static_cast<double>(c.hidden_size);
  const double F = static_cast<double>(c.intermediate_size), V = static_cast<double>(c.vocab_size);
  const double q = static_cast<double>(c.num_attention_heads * c.head_dim);
  const double kv = static_cast<double>(c.num_key_value_heads * c.head_dim);
  const double T = static_cast<double>(s.seq), R = 2.0 * static_cast<double>(s.pairs);
  const double r = static_cast<double>(s.lora_r);
  const double loss_positions = R * (T - static_cast<double>(s.seq / 2));
  // Per token and layer, multiply-adds of the base linears (q, k, v, o, gate, up, down) and
  // of LoRA's two factors on each (r (in + out)).
  const double base_macs = C * q + 2 * C * kv + q * C + 3 * C * F;
  const double lora_macs = r * ((C + q) + 2 * (C + kv) + (q + C) + 2 * (C + F) + (F + C));
  // Per row and layer, attention's QK^T and PV under the causal mask: 2 products of
  // T x T x D per head, half of them kept: T^2 q multiply-adds.
  const double attention_macs = T * T * q;
  // One forward's FLOPs (2 per multiply-add) over all rows. The policy's backward: the frozen
  // base linears and the head get only their input gradient (one forward's worth, no weight
  // gradient); attention's four backward products (dQ, dK, dV, dP) and LoRA's input and
  // weight gradients are two forwards' worth.
  const double linear_forward = 2 * L * R * T * base_macs;
  const double attention_forward = 2 * L * R * attention_macs;
  const double lora_forward = 2 * L * R * T * lora_macs;
  const double head_forward = 2 * loss_positions * C * V;  // logits at the loss positions only
  const double policy =
      2 * (linear_forward + head_forward) + 3 * (attention_forward + lora_forward);
  const double reference =
      s.precompute_ref ? 0.0 : linear_forward + attention_forward + head_forward;
  return policy + reference;
}

nlohmann::json dpo_step_bench(const StepSettings& s, torch::Device device) {
  const model::ModelConfig config = bench_shape(s.shape);
  const c10::ScalarType storage = !s.dtype.empty()
                                      ? model::parse_dtype_name(s.dtype, "--dtype")
                                      : (device.is_cuda() ? torch::kBFloat16 : torch::kFloat32);
#ifdef ZILI_HAS_CUDA_KERNELS
  if (device.is_cuda()) kernels::cuda_reset_peak_allocated(device.index());
#endif
  torch::manual_seed(static_cast<int64_t>(s.seed));
  model::LlamaForCausalLM net = random_model(config, device, storage);
  net->model->compute_dtype = model::compute_dtype_for(device, storage);
  io::AdapterConfig adapter;
  adapter.r = s.lora_r;
  adapter.lora_alpha = 2.0 * static_cast<double>(s.lora_r);
  adapter.target_modules = {"all-linear"};
  lora::LoraModel lora = lora::LoraModel::create(*net, adapter, s.seed);
  {
    torch::NoGradGuard no_grad;  // B away from zero, so the policy differs from the reference
    for (const auto& p : lora.parameters())
      if (p.size(1) == s.lora_r) p.normal_(0.0, 0.01);
  }
  lora.set_training(true);
  train::set_grad_checkpointing(*net->model, s.grad_checkpoint);
  auto optimizer = train::make_adamw(lora.parameters(), {}, train::AdamWSettings{});

  const data::Batch batch = random_pair_batch(s.pairs, s.seq, config.vocab_size, s.seed);
  const int64_t P = s.pairs;
  const auto options = torch::TensorOptions().device(device).dtype(torch::kFloat32);
  // With --precompute-ref the reference log-probs are numbers read from a file.
  const torch::Tensor stored_ref = torch::full({2 * P}, -1.0 * s.seq, options);
  dpo::PreferenceSettings settings;
  double first_loss = 0;
  bool first = true;
  const auto step = [&] {
    torch::Tensor ref = stored_ref;
    if (!s.precompute_ref) {
      torch::NoGradGuard no_grad;
      lora.set_enabled(false);
      ref = train::sequence_logps(*net, batch, kLossChunk).logps;  // [2P]
      lora.set_enabled(true);
    }
    const train::SequenceLogps seq = train::sequence_logps(*net, batch, kLossChunk);  // [2P]
    dpo::PreferenceLogps logps;
    logps.policy_chosen_logps = seq.logps.narrow(0, 0, P);
    logps.policy_rejected_logps = seq.logps.narrow(0, P, P);
    logps.ref_chosen_logps = ref.narrow(0, 0, P).to(seq.logps.scalar_type());
    logps.ref_rejected_logps = ref.narrow(0, P, P).to(seq.logps.scalar_type());
    const torch::Tensor loss =
        dpo::preference_loss(dpo::PreferenceLoss::sigmoid, logps, settings).losses.mean();
    loss.backward();
    optimizer->step();
    optimizer->zero_grad();
    if (first) first_loss = loss.item<double>(), first = false;
  };
  const double seconds = median_seconds(device, s.warmup, s.steps, step);
  const double tokens = static_cast<double>(2 * P * s.seq);
  return {{"bench", "dpo_step"},
          {"shape", s.shape},
          {"device", device.str()},
          {"dtype", model::dtype_config_name(storage)},
          {"seq", s.seq},
          {"pairs", s.pairs},
          {"lora_r", s.lora_r},
          {"grad_checkpoint", s.grad_checkpoint},
          {"precompute_ref", s.precompute_ref},
          {"fused", model::fused_kernels_enabled() && device.is_cuda()},
          {"step_seconds", seconds},
          {"tokens_per_second", tokens / seconds},
          {"peak_mib", static_cast<double>(peak_bytes(device)) / (1 << 20)},
          {"model_flops", dpo_step_flops(config, s)},
          {"first_loss", first_loss},
          {"steps", s.steps}};
}

}  // namespace zili::bench
