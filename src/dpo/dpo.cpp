// The DPO run, top to bottom, as `zili sft` is built: inputs checked first (flags, model,
// loss settings, the whole preference file), then the policy, then the reference log-probs
// (now, or as pairs are first met), then per optimizer step: the chosen and rejected rows of
// --grad-accum batches forward together, the preference loss against the reference,
// backward, clip, step, log, evaluate, checkpoint.
#include "dpo/dpo.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <numeric>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "data/pair_batching.h"
#include "data/preference_data.h"
#include "dpo/reference_logps.h"
#include "model/config.h"
#include "model/device.h"
#include "train/checkpoint.h"
#include "train/interrupt.h"
#include "train/lr_schedule.h"
#include "train/metrics_log.h"
#include "train/run_setup.h"
#include "train/sequence_logps.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace zili::dpo {
namespace {

using Clock = std::chrono::steady_clock;
using data::TokenizedPair;
constexpr int kTrain = 0, kEval = 1;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void log_pairs(const std::string& path, const data::PreferenceDataStats& s, int64_t max_length) {
  spdlog::info(
      "{}: {} lines ({} layout): {} pairs, {} truncated to {} tokens, {} dropped as overlong, "
      "{} bad lines skipped",
      path, s.lines, s.layout, s.pairs, s.truncated, max_length, s.dropped_overlong, s.skipped_bad);
  for (const std::string& reason : s.skipped_reasons) spdlog::warn("skipped {}", reason);
}

// One batch of pairs through the policy, and its loss against the reference.
struct PairBatchResult {
  PreferenceLogps logps;
  PreferenceLossOutput loss;
  torch::Tensor chosen_logit_means, rejected_logit_means;  // [P] detached
};

PairBatchResult forward_pairs(model::LlamaForCausalLMImpl& model, const data::Batch& batch,
                              const std::vector<int64_t>& indices, int set,
                              const std::vector<TokenizedPair>& pairs, ReferenceLogps* reference,
                              PreferenceLoss kind, const PreferenceSettings& settings,
                              int64_t chunk_tokens) {
  const int64_t P = batch.pairs;
  const train::SequenceLogps seq = train::sequence_logps(model, batch, chunk_tokens);  // [2P]
  const torch::Tensor counts = batch.completion_tokens.to(seq.logps.options()).clamp_min(1);
  PairBatchResult r;
  r.logps.policy_chosen_logps = seq.logps.narrow(0, 0, P);
  r.logps.policy_rejected_logps = seq.logps.narrow(0, P, P);
  r.logps.chosen_tokens = counts.narrow(0, 0, P);
  r.logps.rejected_tokens = counts.narrow(0, P, P);
  if (needs_reference(kind)) {
    std::vector<double> chosen, rejected;
    for (int64_t index : indices) {
      const auto [c, rj] = reference->get(set, pairs, static_cast<size_t>(index));
      chosen.push_back(c);
      rejected.push_back(rj);
    }
    r.logps.ref_chosen_logps = torch::tensor(chosen).to(seq.logps.options());
    r.logps.ref_rejected_logps = torch::tensor(rejected).to(seq.logps.options());
  }
  if (needs_chosen_nll(kind, settings))
    r.logps.chosen_nll = -r.logps.policy_chosen_logps / r.logps.chosen_tokens;
  r.loss = preference_loss(kind, r.logps, settings);
  r.chosen_logit_means = seq.logit_sums.narrow(0, 0, P) / r.logps.chosen_tokens;
  r.rejected_logit_means = seq.logit_sums.narrow(0, P, P) / r.logps.rejected_tokens;
  return r;
}

// Adds the batch's per-pair sums of what TRL logs (divided by "pairs" when logged).
void add_pair_metrics(std::map<std::string, double>& sums, const PairBatchResult& r) {
  auto sum = [](const torch::Tensor& t) { return t.detach().sum().item<double>(); };
  const torch::Tensor& chosen = r.loss.chosen_rewards;
  const torch::Tensor& rejected = r.loss.rejected_rewards;
  sums["rewards/chosen"] += sum(chosen);
  sums["rewards/rejected"] += sum(rejected);
  sums["rewards/accuracies"] += sum((chosen > rejected).to(torch::kFloat64));
  sums["rewards/margins"] += sum(chosen - rejected);
  sums["logps/chosen"] += sum(r.logps.policy_chosen_logps);
  sums["logps/rejected"] += sum(r.logps.policy_rejected_logps);
  sums["logits/chosen"] += sum(r.chosen_logit_means);
  sums["logits/rejected"] += sum(r.rejected_logit_means);
  sums["pairs"] += static_cast<double>(chosen.size(0));
}

// The logged means: "loss" per step, the rest per pair.
nlohmann::json mean_metrics(const std::map<std::string, double>& sums, int64_t steps,
                            const std::string& prefix = "") {
  nlohmann::json record;
  const double pairs = std::max(1.0, sums.count("pairs") ? sums.at("pairs") : 0.0);
  for (const auto& [name, value] : sums) {
    if (name == "pairs") continue;
    record[prefix + name] =
        name == "loss" ? value / static_cast<double>(std::max<int64_t>(1, steps)) : value / pairs;
  }
  return record;
}

// Mean loss and pair metrics over `pairs`, dropout off, no grad.
std::map<std::string, double> evaluate(train::Policy& policy,
                                       const std::vector<TokenizedPair>& pairs,
                                       ReferenceLogps* reference, PreferenceLoss kind,
                                       const DpoOptions& o, int64_t pad_id) {
  torch::NoGradGuard no_grad;
  policy.trainable.set_training(false);
  std::vector<int64_t> order(pairs.size());
  std::iota(order.begin(), order.end(), 0);
  const auto lengths = data::pair_lengths(pairs);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return lengths[a] < lengths[b]; });
  std::map<std::string, double> sums;
  for (size_t first = 0; first < order.size(); first += o.train.batch_size) {
    const size_t end = std::min(order.size(), first + o.train.batch_size);
    std::vector<int64_t> indices(order.begin() + first, order.begin() + end);
    const data::Batch batch = data::make_pair_batch(pairs, indices, pad_id);
    const PairBatchResult r = forward_pairs(*policy.model, batch, indices, kEval, pairs, reference,
                                            kind, o.settings, o.train.loss_chunk);
    sums["loss"] += r.loss.losses.sum().item<double>();
    add_pair_metrics(sums, r);
  }
  policy.trainable.set_training(true);
  // The loss too is a mean per pair here (one "step" of all pairs).
  sums["loss"] /= std::max(1.0, sums["pairs"]);
  return sums;
}

}  // namespace

void run_dpo(const DpoOptions& options) {
  const train::TrainOptions& o = options.train;
  const bool resuming = !o.resume.empty();

  // --- 1. Inputs, all checked before anything is written or logged -------------------------
  const PreferenceLoss kind = parse_preference_loss(options.loss);
  check_preference_settings(kind, options.settings);
  if (!options.init_adapter.empty() && o.full)
    fail("--init-adapter starts LoRA training from an adapter; it does not go with --full");
  if (!options.ref_logps.empty() && !fs::is_regular_file(options.ref_logps))
    fail("{}: no such file (--ref-logps takes an earlier run's reference_logps.safetensors)",
         options.ref_logps);
  const train::RunInputs in = train::check_run_inputs(o, options.chat_template);
  if (!options.init_adapter.empty())  // its shapes against the base, before anything loads
    lora::check_adapter(in.config, io::read_adapter(options.init_adapter));
  const train::ChatTemplateChoice& chat_template = in.chat_template;
  data::PreferenceDataset train_set =
      data::read_preference_data(o.data, in.tokenizer, train::data_options(o, chat_template));
  data::PreferenceDataset eval_set;
  if (!o.eval_data.empty())
    eval_set = data::read_preference_data(o.eval_data, in.tokenizer,
                                          train::data_options(o, chat_template));
  std::vector<TokenizedPair>& pairs = train_set.pairs;
  std::vector<TokenizedPair>& eval = eval_set.pairs;
  if (o.eval_fraction > 0) {
    const std::vector<bool> held = train::held_out(pairs.size(), o.eval_fraction, o.seed);
    std::vector<TokenizedPair> kept;
    for (size_t i = 0; i < held.size(); ++i) (held[i] ? eval : kept).push_back(std::move(pairs[i]));
    pairs = std::move(kept);
  }
  std::vector<std::string> adapter_files;
  if (!options.init_adapter.empty())
    adapter_files = {options.init_adapter + "/adapter_model.safetensors",
                     options.init_adapter + "/adapter_config.json"};
  const std::string fingerprint = train::run_fingerprint(o, adapter_files);
  // What the reference numbers depend on: the base, the adapter the run starts from, the
  // data (and which pairs the seed holds out), and how it is tokenized and computed (the
  // storage, and the compute dtype, which is the storage's on a GPU and fp32 on the CPU).
  const c10::ScalarType storage = o.full ? torch::kFloat32 : in.storage.value_or(in.config.dtype);
  const std::string reference_key =
      dpo::checkpoint_fingerprint(o.model_dir) + " " + fingerprint + " " +
      fmt::format("{} {} {} {} {} {} {} {}", chat_template.key(), o.max_length, o.drop_overlong,
                  model::dtype_config_name(in.storage.value_or(in.config.dtype)),
                  model::dtype_config_name(model::compute_dtype_for(in.device, storage)),
                  o.loss_chunk, o.seed, o.eval_fraction);
  if (!options.ref_logps.empty()) {
    if (!needs_reference(kind))
      fail("--ref-logps: the {} loss uses no reference log-probs", options.loss);
    if (ReferenceLogps::key_of(options.ref_logps) != reference_key)
      fail(
          "{}: its reference log-probs are for another model, data or settings (key differs); "
          "drop --ref-logps to compute them",
          options.ref_logps);
  }
  if (resuming && o.full && needs_reference(kind) &&
      !fs::exists(o.resume + "/reference_logps.safetensors"))
    fail(
        "{}/reference_logps.safetensors: missing; the reference log-probs of a --full run are "
        "made from the base before training and cannot be remade from a checkpoint",
        o.resume);

  train::log_chat_template(in.chat_template);
  log_pairs(o.data, train_set.stats, o.max_length);
  if (!o.eval_data.empty()) log_pairs(o.eval_data, eval_set.stats, o.max_length);
  if (o.eval_fraction > 0)
    spdlog::info("held out {} pairs of {} for evaluation", eval.size(), o.data);
  const train::NewRunCleanup cleanup(resuming ? "" : o.out);
  const train::RunFolder run =
      resuming ? train::open_run_folder(o.resume) : train::create_run_folder(o.out, o.config_toml);
  const std::optional<std::string> resume_from =
      resuming ? train::latest_checkpoint(run.root) : std::nullopt;

  // --- 2. The policy and its reference ----------------------------------------------------
  train::Policy policy = train::load_policy(o, in, resume_from, options.init_adapter);
  model::LlamaForCausalLMImpl& model = *policy.model;
  const int64_t pad_id = in.tokenizer.pad_id() >= 0 ? in.tokenizer.pad_id() : 0;
  ReferenceLogps reference(model, policy.trainable.lora_model(), options.init_adapter, pad_id,
                           o.loss_chunk);
  if (needs_reference(kind)) {
    // Full training changes the very weights the reference is made of: it is computed
    // before the first update, as with --precompute-ref.
    const bool up_front = options.precompute_ref || o.full || !options.ref_logps.empty();
    const std::string& key = reference_key;
    const std::string stored = run.root + "/reference_logps.safetensors";
    if (up_front) {
      const std::string source = options.ref_logps.empty() ? stored : options.ref_logps;
      if (reference.load(source, key, pairs.size(), eval.size())) {
        spdlog::info("reference log-probs of {} + {} pairs read from {}", pairs.size(), eval.size(),
                     source);
      } else {
        spdlog::info("computing the reference log-probs of {} + {} pairs", pairs.size(),
                     eval.size());
        reference.precompute_all(kTrain, pairs);
        reference.precompute_all(kEval, eval);
      }
      reference.save(stored, key);
    }
  }

  // --- 3. The schedule --------------------------------------------------------------------
  std::vector<std::vector<std::vector<int64_t>>> epochs;
  auto plan_of = [&](int64_t epoch) -> const std::vector<std::vector<int64_t>>& {
    while (static_cast<int64_t>(epochs.size()) <= epoch)
      epochs.push_back(
          data::plan_pair_epoch(pairs, o.batch_size, o.seed, static_cast<int64_t>(epochs.size())));
    return epochs[epoch];
  };
  int64_t total_steps = o.max_steps;
  if (total_steps <= 0) {
    total_steps = 0;
    for (int64_t e = 0; e < o.epochs; ++e)
      total_steps += (static_cast<int64_t>(plan_of(e).size()) + o.grad_accum - 1) / o.grad_accum;
  }
  const train::LrPlan lr_plan{o.lr, train::parse_lr_schedule(o.lr_schedule),
                              train::warmup_steps_for(o.warmup_steps, o.warmup_ratio, total_steps),
                              total_steps};
  spdlog::info("{} steps ({} batches of {} pairs per epoch, grad-accum {}), loss {}, beta {}",
               total_steps, plan_of(0).size(), o.batch_size, o.grad_accum, options.loss,
               options.settings.beta);
  spdlog::info("training {} parameters ({}{}), {} warmup steps, {} schedule, lr {}",
               policy.parameter_count, o.full ? "full" : "LoRA",
               options.init_adapter.empty() ? "" : " from " + options.init_adapter,
               lr_plan.warmup_steps, o.lr_schedule, o.lr);
  train::TrainerState state =
      train::start_or_resume(o, run, resume_from, policy, fingerprint, total_steps);

  // --- 4. The steps -----------------------------------------------------------------------
  train::MetricsLog metrics(run.metrics(), resuming ? state.step : -1);
  train::catch_stop_signals();
  train::Progress progress(o.log_every);
  policy.trainable.set_training(true);
  auto log_eval = [&] {
    if (eval.empty()) return;
    const auto sums = evaluate(policy, eval, &reference, kind, options, pad_id);
    nlohmann::json record = mean_metrics(sums, 1, "eval_");
    record["eval_loss"] = sums.at("loss");
    record["step"] = state.step;
    progress.finish_line();
    spdlog::info("step {}: eval loss {:.4f}, reward accuracy {:.3f}, margin {:.4f} on {} pairs",
                 state.step, sums.at("loss"), record["eval_rewards/accuracies"].get<double>(),
                 record["eval_rewards/margins"].get<double>(), eval.size());
    metrics.write(record);
  };

  const auto started = Clock::now();
  const double elapsed_before = state.elapsed_seconds;
  const int64_t first_step = state.step;
  int64_t window_tokens = 0;
  auto window_start = Clock::now();
  while (state.step < total_steps) {
    if (state.next_batch >= static_cast<int64_t>(plan_of(state.epoch).size())) {
      ++state.epoch;
      state.next_batch = 0;
    }
    const auto& plan = plan_of(state.epoch);
    const int64_t end = std::min<int64_t>(plan.size(), state.next_batch + o.grad_accum);
    int64_t step_pairs = 0;
    for (int64_t i = state.next_batch; i < end; ++i) step_pairs += plan[i].size();
    // loss = mean over the step's pairs of the per-pair loss, so --grad-accum k gives the
    // gradient of one k-times larger batch.
    policy.optimizer->zero_grad();
    double loss = 0;
    std::map<std::string, double> step_sums;
    for (int64_t i = state.next_batch; i < end; ++i) {
      const data::Batch batch = data::make_pair_batch(pairs, plan[i], pad_id);
      const PairBatchResult r = forward_pairs(model, batch, plan[i], kTrain, pairs, &reference,
                                              kind, options.settings, o.loss_chunk);
      torch::Tensor part = r.loss.losses.sum() / static_cast<double>(step_pairs);
      part.backward();
      loss += part.item<double>();
      add_pair_metrics(step_sums, r);
      window_tokens += batch.real_tokens;
      state.tokens_seen += batch.real_tokens;
    }
    const double lr = train::learning_rate(lr_plan, state.step);
    const double grad_norm =
        train::apply_update(policy, o, loss, lr, state.step + 1, run, progress);
    ++state.step;
    state.next_batch = end;
    state.elapsed_seconds = elapsed_before + seconds_since(started);
    state.window_sums["loss"] += loss;
    for (const auto& [name, value] : step_sums) state.window_sums[name] += value;
    ++state.window_steps;

    const double tokens_per_second =
        static_cast<double>(window_tokens) / std::max(1e-9, seconds_since(window_start));
    const double step_pairs_d = std::max(1.0, step_sums["pairs"]);
    train::StepReport report{state.step,
                             total_steps,
                             loss,
                             lr,
                             grad_norm,
                             tokens_per_second,
                             seconds_since(started),
                             state.step - first_step,
                             ""};
    report.extra =
        fmt::format(" | acc {:.2f} | margin {:.3f}", step_sums["rewards/accuracies"] / step_pairs_d,
                    step_sums["rewards/margins"] / step_pairs_d);
    progress.step(report);
    if (state.step % o.log_every == 0 || state.step == total_steps) {
      nlohmann::json record = mean_metrics(state.window_sums, state.window_steps);
      record["step"] = state.step;
      record["epoch"] = static_cast<double>(state.epoch) +
                        static_cast<double>(state.next_batch) / static_cast<double>(plan.size());
      record["lr"] = lr;
      record["grad_norm"] = grad_norm;
      record["tokens_per_second"] = tokens_per_second;
      record["elapsed_seconds"] = state.elapsed_seconds;
      train::add_peak_memory(record, in.device);
      metrics.write(record);
      state.window_sums.clear();
      state.window_steps = 0;
      window_tokens = 0;
      window_start = Clock::now();
    }
    if (o.eval_every > 0 && state.step % o.eval_every == 0 && state.step < total_steps) log_eval();
    const int signal = train::stop_signal();
    if (signal != 0 || state.step == total_steps ||
        (o.save_every > 0 && state.step % o.save_every == 0))
      train::save_step(policy, o, run, state, progress);
    if (signal != 0) {
      progress.finish_line();
      throw train::interrupted(signal, state, total_steps, run, "dpo");
    }
  }
  progress.finish_line();
  train::restore_stop_signals();
  if (first_step == total_steps)
    spdlog::info("{}: already complete ({} steps)", run.root, total_steps);
  log_eval();

  // --- 5. The result ----------------------------------------------------------------------
  train::save_result(policy, o, in, run);
  spdlog::info("wrote {} after {} steps ({:.1f} s of training, peak memory {:.0f} MiB)",
               run.result(o.full), state.step, state.elapsed_seconds, train::peak_rss_mib());
}

}  // namespace zili::dpo
