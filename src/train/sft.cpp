// The SFT run, top to bottom: everything a user can get wrong is checked first (flags, model
// folder, the whole data file), then the model and what is trained are set up, then each
// optimizer step runs --grad-accum batches forward and backward, clips, steps, logs,
// evaluates and checkpoints. A resumed run restores weights, optimizer, random generator
// and data cursor from the newest checkpoint and takes exactly the steps it would have.
#include "train/sft.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include <spdlog/spdlog.h>

#include "data/batching.h"
#include "data/sft_data.h"
#include "train/checkpoint.h"
#include "train/interrupt.h"
#include "train/lr_schedule.h"
#include "train/metrics_log.h"
#include "train/progress.h"
#include "train/run_folder.h"
#include "train/run_setup.h"
#include "train/sft_loss.h"
#include "util/error.h"

namespace zili::train {

namespace {

using Clock = std::chrono::steady_clock;
using data::TokenizedExample;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void log_data(const std::string& path, const data::SftDataStats& s, int64_t max_length) {
  spdlog::info(
      "{}: {} lines ({} layout): {} examples, {} truncated to {} tokens, {} dropped as "
      "overlong, {} bad lines skipped",
      path, s.lines, s.layout, s.examples, s.truncated, max_length, s.dropped_overlong,
      s.skipped_bad);
  for (const std::string& reason : s.skipped_reasons) spdlog::warn("skipped {}", reason);
}

// The batches of each epoch, planned once (they are a function of seed and epoch only).
struct EpochPlans {
  const std::vector<int64_t>* lengths;
  const TrainOptions* o;
  bool packing;
  std::vector<std::vector<std::vector<int64_t>>> epochs;

  const std::vector<std::vector<int64_t>>& of(int64_t epoch) {
    while (static_cast<int64_t>(epochs.size()) <= epoch)
      epochs.push_back(data::plan_epoch(*lengths, o->batch_size, o->seed,
                                        static_cast<int64_t>(epochs.size()), packing,
                                        o->max_length));
    return epochs[epoch];
  }
  int64_t steps_in(int64_t epoch) {
    const auto batches = static_cast<int64_t>(of(epoch).size());
    return (batches + o->grad_accum - 1) / o->grad_accum;
  }
};

// Mean negative log-likelihood per target token, dropout off, no grad.
double evaluate(model::LlamaForCausalLMImpl& model, Trainable& trainable,
                const std::vector<TokenizedExample>& examples, const SftOptions& o,
                int64_t pad_id) {
  torch::NoGradGuard no_grad;
  trainable.set_training(false);
  // Sorted by length so batches carry little padding; no shuffling needed.
  std::vector<int64_t> order(examples.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return examples[a].ids.size() < examples[b].ids.size();
  });
  double nll = 0;
  int64_t tokens = 0;
  for (size_t first = 0; first < order.size(); first += o.train.batch_size) {
    const size_t end = std::min(order.size(), first + o.train.batch_size);
    std::vector<int64_t> indices(order.begin() + first, order.begin() + end);
    data::Batch batch = data::make_batch(examples, indices, pad_id, /*packing=*/false,
                                         o.train.batch_size, o.train.max_length);
    nll += sft_nll_sum(model, batch, o.train.loss_chunk).item<double>();
    tokens += batch.target_tokens;
  }
  trainable.set_training(true);
  return tokens > 0 ? nll / static_cast<double>(tokens) : NAN;
}

}  // namespace

void run_sft(const SftOptions& options) {
  const TrainOptions& o = options.train;
  const bool resuming = !o.resume.empty();

  // --- 1. Inputs, all checked before anything is written or logged -------------------------
  const RunInputs in = check_run_inputs(o, options.chat_template);
  const ChatTemplateChoice& chat_template = in.chat_template;
  data::SftDataset train =
      data::read_sft_data(o.data, in.tokenizer, data_options(o, chat_template));
  data::SftDataset eval_set;
  if (!o.eval_data.empty())
    eval_set = data::read_sft_data(o.eval_data, in.tokenizer, data_options(o, chat_template));
  const std::string fingerprint = run_fingerprint(o);
  std::vector<TokenizedExample> eval = std::move(eval_set.examples);
  if (o.eval_fraction > 0) {
    const std::vector<bool> held = held_out(train.examples.size(), o.eval_fraction, o.seed);
    std::vector<TokenizedExample> kept;
    for (size_t i = 0; i < held.size(); ++i)
      (held[i] ? eval : kept).push_back(std::move(train.examples[i]));
    train.examples = std::move(kept);
  }

  log_chat_template(in.chat_template);
  log_data(o.data, train.stats, o.max_length);
  if (!o.eval_data.empty()) log_data(o.eval_data, eval_set.stats, o.max_length);
  if (o.eval_fraction > 0)
    spdlog::info("held out {} examples of {} for evaluation", eval.size(), o.data);
  const NewRunCleanup cleanup(resuming ? "" : o.out);
  const RunFolder run =
      resuming ? open_run_folder(o.resume) : create_run_folder(o.out, o.config_toml);
  const std::optional<std::string> resume_from =
      resuming ? latest_checkpoint(run.root) : std::nullopt;

  // --- 2. The model and what is trained ---------------------------------------------------
  Policy policy = load_policy(o, in, resume_from);
  model::LlamaForCausalLMImpl& model = *policy.model;
  Trainable& trainable = policy.trainable;

  // --- 3. The schedule --------------------------------------------------------------------
  std::vector<int64_t> lengths;
  for (const auto& e : train.examples) lengths.push_back(static_cast<int64_t>(e.ids.size()));
  EpochPlans plans{&lengths, &o, options.packing, {}};
  int64_t total_steps = o.max_steps;
  if (total_steps <= 0) {
    total_steps = 0;
    for (int64_t e = 0; e < o.epochs; ++e) total_steps += plans.steps_in(e);
  }
  const LrPlan lr_plan{o.lr, parse_lr_schedule(o.lr_schedule),
                       warmup_steps_for(o.warmup_steps, o.warmup_ratio, total_steps), total_steps};
  const int64_t pad_id = in.tokenizer.pad_id() >= 0 ? in.tokenizer.pad_id() : 0;
  {
    int64_t real = 0, padded = 0;
    for (const auto& indices : plans.of(0)) {
      data::Batch b = data::make_batch(train.examples, indices, pad_id, options.packing,
                                       o.batch_size, o.max_length);
      real += b.real_tokens;
      padded += b.padded_tokens();
    }
    spdlog::info(
        "{} steps ({} batches of {} per epoch{}, grad-accum {}), padding {:.1f}% of "
        "batch tokens{}",
        total_steps, plans.of(0).size(), o.batch_size, options.packing ? " packed rows" : "",
        o.grad_accum, 100.0 * (padded - real) / std::max<int64_t>(1, padded),
        options.packing ? " (packed)" : " (grouped by length)");
  }
  spdlog::info("training {} parameters ({}), {} warmup steps, {} schedule, lr {}",
               policy.parameter_count, o.full ? "full" : "LoRA r=" + std::to_string(o.lora_r),
               lr_plan.warmup_steps, o.lr_schedule, o.lr);

  TrainerState state = start_or_resume(o, run, resume_from, policy, fingerprint, total_steps);

  // --- 4. The steps -----------------------------------------------------------------------
  MetricsLog metrics(run.metrics(), resuming ? state.step : -1);
  catch_stop_signals();
  Progress progress(o.log_every);
  trainable.set_training(true);
  auto log_eval = [&] {
    if (eval.empty()) return;
    const double loss = evaluate(model, trainable, eval, options, pad_id);
    progress.finish_line();
    spdlog::info("step {}: eval loss {:.4f} on {} examples", state.step, loss, eval.size());
    metrics.write({{"step", state.step}, {"eval_loss", loss}, {"eval_examples", eval.size()}});
  };

  const auto started = Clock::now();
  const double elapsed_before = state.elapsed_seconds;
  const int64_t first_step = state.step;
  // The loss logged at a --log-every step is the mean over the steps since the last one
  // (as transformers logs it); its running sum lives in the trainer state, so a resumed run
  // logs the same numbers.
  int64_t window_real = 0, window_padded = 0;
  auto window_start = Clock::now();
  while (state.step < total_steps) {
    if (state.next_batch >= static_cast<int64_t>(plans.of(state.epoch).size())) {
      ++state.epoch;
      state.next_batch = 0;
    }
    const auto& plan = plans.of(state.epoch);
    const int64_t end = std::min<int64_t>(plan.size(), state.next_batch + o.grad_accum);
    std::vector<data::Batch> batches;
    int64_t step_targets = 0;
    for (int64_t i = state.next_batch; i < end; ++i) {
      batches.push_back(data::make_batch(train.examples, plan[i], pad_id, options.packing,
                                         o.batch_size, o.max_length));
      step_targets += batches.back().target_tokens;
    }
    // loss = sum of every target token's NLL over the step's batches / their target count,
    // so --grad-accum k gives the gradient of one k-times larger batch.
    policy.optimizer->zero_grad();
    double loss = 0;
    for (const data::Batch& batch : batches) {
      torch::Tensor part =
          sft_nll_sum(model, batch, o.loss_chunk) / static_cast<double>(step_targets);
      part.backward();
      loss += part.item<double>();
      window_real += batch.real_tokens;
      window_padded += batch.padded_tokens();
    }
    const double lr = learning_rate(lr_plan, state.step);
    const double grad_norm = apply_update(policy, o, loss, lr, state.step + 1, run, progress);
    ++state.step;
    state.next_batch = end;
    for (const auto& b : batches) state.tokens_seen += b.real_tokens;
    state.elapsed_seconds = elapsed_before + seconds_since(started);
    state.window_sums["loss"] += loss;
    ++state.window_steps;

    const double window_seconds = seconds_since(window_start);
    StepReport report{state.step,
                      total_steps,
                      loss,
                      lr,
                      grad_norm,
                      static_cast<double>(window_real) / std::max(1e-9, window_seconds),
                      seconds_since(started),
                      state.step - first_step,
                      ""};
    progress.step(report);
    if (state.step % o.log_every == 0 || state.step == total_steps) {
      const double epoch = static_cast<double>(state.epoch) +
                           static_cast<double>(state.next_batch) / static_cast<double>(plan.size());
      nlohmann::json record = {
          {"step", state.step},
          {"epoch", epoch},
          {"loss", state.window_sums["loss"] / static_cast<double>(state.window_steps)},
          {"lr", lr},
          {"grad_norm", grad_norm},
          {"tokens_per_second", report.tokens_per_second},
          {"padding_fraction",
           static_cast<double>(window_padded - window_real) / std::max<int64_t>(1, window_padded)},
          {"elapsed_seconds", state.elapsed_seconds}};
      add_peak_memory(record, in.device);
      metrics.write(record);
      state.window_sums.clear();
      state.window_steps = window_real = window_padded = 0;
      window_start = Clock::now();
    }
    if (o.eval_every > 0 && state.step % o.eval_every == 0 && state.step < total_steps) log_eval();
    const int signal = stop_signal();
    if (signal != 0 || state.step == total_steps ||
        (o.save_every > 0 && state.step % o.save_every == 0))
      save_step(policy, o, run, state, progress);
    if (signal != 0) {
      progress.finish_line();
      throw interrupted(signal, state, total_steps, run, "sft");
    }
  }
  progress.finish_line();
  restore_stop_signals();
  if (first_step == total_steps)
    spdlog::info("{}: already complete ({} steps)", run.root, total_steps);
  log_eval();

  // --- 5. The result ----------------------------------------------------------------------
  save_result(policy, o, in, run);
  spdlog::info("wrote {} after {} steps ({:.1f} s of training, peak memory {:.0f} MiB)",
               run.result(o.full), state.step, state.elapsed_seconds, peak_rss_mib());
}

}  // namespace zili::train
