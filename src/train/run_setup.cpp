// The setup and bookkeeping steps `zili sft` and `zili dpo` share.
#include "train/run_setup.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "lora/lora_model.h"
#include "model/device.h"
#include "model/fused.h"
#include "model/load.h"
#include "train/grad_checkpoint.h"
#include "train/optimizer_state.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/staging_dir.h"

namespace fs = std::filesystem;

namespace zili::train {

ChatTemplateChoice resolve_chat_template(const std::string& flag, const std::string& model_dir) {
  ChatTemplateChoice choice;
  if (flag.ends_with(".jinja") || (flag != "auto" && fs::is_regular_file(flag))) {
    choice.model_template = std::make_shared<const data::ModelChatTemplate>(
        data::ModelChatTemplate::from_file(flag, model_dir));
    choice.note = fmt::format("chat template: {} (Jinja)", flag);
    return choice;
  }
  if (flag != "auto") {
    choice.chat_template = data::parse_chat_template(flag);
    choice.note = "chat template: " + flag;
    return choice;
  }
  auto model = data::ModelChatTemplate::find(model_dir);
  if (!model) {
    choice.note = "chat template: chatml (the model has none; pick another with --chat-template)";
    return choice;
  }
  // The templates zili init writes: the built-in renders them (up to the "\n" Jinja writes
  // after the last message, docs/training.md) with zili's own end-of-turn rules.
  for (const data::ChatTemplate own : {data::ChatTemplate::chatml, data::ChatTemplate::zephyr}) {
    if (model->source() != data::chat_template_jinja(own)) continue;
    choice.chat_template = own;
    choice.note = fmt::format("chat template: {} (recognised in {})", data::chat_template_name(own),
                              model->origin());
    return choice;
  }
  choice.note = fmt::format("chat template: the model's own (Jinja, from {})", model->origin());
  choice.model_template = std::make_shared<const data::ModelChatTemplate>(std::move(*model));
  return choice;
}

std::string ChatTemplateChoice::key() const {
  if (!model_template) return data::chat_template_name(chat_template);
  return fmt::format("jinja-{:016x}", std::hash<std::string>{}(model_template->source()));
}

void log_chat_template(const ChatTemplateChoice& choice) {
  if (choice.unrecognised)
    spdlog::warn("{}", choice.note);
  else
    spdlog::info("{}", choice.note);
}

RunInputs check_run_inputs(const TrainOptions& o, const std::string& chat_template_flag) {
  check_train_options(o);
  if (o.resume.empty() && fs::exists(o.out) && !(fs::is_directory(o.out) && fs::is_empty(o.out)))
    fail("{}: exists; choose another --out, or continue that run with --resume {}", o.out, o.out);
  RunInputs in{model::load_config(o.model_dir), data::Tokenizer::load_dir(o.model_dir), {}, {}, {}};
  in.chat_template = resolve_chat_template(chat_template_flag, o.model_dir);
  if (!o.dtype.empty()) in.storage = model::parse_dtype_name(o.dtype, "--dtype");
  in.device = model::resolve_device(o.device);
  model::set_fused_kernels_enabled(!o.no_fused);
  if (!o.full)
    in.lora_config = lora::adapter_config_from_flags(
        in.config, o.lora_r, o.lora_alpha, o.lora_dropout, o.rslora, o.lora_targets, o.model_dir);
  return in;
}

std::string run_fingerprint(const TrainOptions& o, const std::vector<std::string>& extra) {
  std::vector<std::string> files = {o.data};
  if (!o.eval_data.empty()) files.push_back(o.eval_data);
  for (const char* name :
       {"config.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json",
        "special_tokens_map.json", "chat_template.jinja"})
    if (fs::exists(fs::path(o.model_dir) / name))
      files.push_back((fs::path(o.model_dir) / name).string());
  files.insert(files.end(), extra.begin(), extra.end());
  return fingerprint_files(files);
}

data::SftDataOptions data_options(const TrainOptions& o, const ChatTemplateChoice& chat_template) {
  data::SftDataOptions options;
  options.chat_template = chat_template.chat_template;
  options.model_template = chat_template.model_template;
  options.max_length = o.max_length;
  options.drop_overlong = o.drop_overlong;
  options.on_bad_line =
      o.on_bad_line == "skip" ? data::BadLinePolicy::skip : data::BadLinePolicy::error;
  return options;
}

std::vector<bool> held_out(size_t count, double fraction, uint64_t seed) {
  const auto held = std::max<size_t>(1, static_cast<size_t>(std::lround(fraction * count)));
  if (held >= count)
    fail("--eval-fraction {} leaves nothing to train on out of {}", fraction, count);
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 generator(seed ^ 0x65766131ull);  // "eva1": apart from the epoch shuffles
  std::shuffle(order.begin(), order.end(), generator);
  std::vector<bool> mask(count, false);
  for (size_t i = 0; i < held; ++i) mask[order[i]] = true;
  return mask;
}

Policy load_policy(const TrainOptions& o, const RunInputs& in,
                   const std::optional<std::string>& resume_from, const std::string& init_adapter) {
  Policy policy;
  model::LoadOptions load;
  load.dtype = o.full ? std::optional<c10::ScalarType>(torch::kFloat32) : in.storage;
  load.device = in.device;
  const std::string weights_from = o.full && resume_from ? *resume_from : o.model_dir;
  policy.model = model::load_model(weights_from, in.config, load);
  policy.model->model->compute_dtype =
      model::compute_dtype_for(in.device, load.dtype.value_or(in.config.dtype));
  spdlog::info("device: {}; computing in {}", model::describe_device(in.device),
               c10::toString(policy.model->model->compute_dtype));
  const std::string adapter_from = resume_from ? *resume_from : init_adapter;
  policy.trainable = o.full ? Trainable::full(*policy.model)
                            : Trainable::lora(*policy.model, in.lora_config, o.seed, adapter_from);
  set_grad_checkpointing(*policy.model->model, o.grad_checkpoint);
  AdamWSettings adamw;
  adamw.lr = o.lr;
  adamw.weight_decay = o.weight_decay;
  policy.optimizer = make_adamw(policy.trainable.decayed, policy.trainable.not_decayed, adamw);
  policy.params = policy.trainable.all();
  for (const auto& p : policy.params) policy.parameter_count += p.numel();
  return policy;
}

TrainerState start_or_resume(const TrainOptions& o, const RunFolder& run,
                             const std::optional<std::string>& resume_from, Policy& policy,
                             const std::string& fingerprint, int64_t total_steps) {
  TrainerState state;
  state.fingerprint = fingerprint;
  if (!resume_from) {
    torch::manual_seed(o.seed);  // LoRA dropout
    if (!o.resume.empty()) spdlog::info("{}: no checkpoint yet; starting from step 0", run.root);
    return state;
  }
  state = load_checkpoint(*resume_from, *policy.optimizer);
  if (state.fingerprint != fingerprint)
    fail(
        "{}: the data or model files changed since this run started (fingerprint {} now {}); "
        "a resumed run must see the same inputs",
        *resume_from, state.fingerprint, fingerprint);
  spdlog::info("resuming {} from {} (step {} of {})", run.root, *resume_from, state.step,
               total_steps);
  return state;
}

static std::string last_good(const RunFolder& run) {
  const auto last = latest_checkpoint(run.root);
  return last ? "The last good checkpoint is " + *last : "No checkpoint was saved yet";
}

double apply_update(Policy& policy, const TrainOptions& o, double loss, double lr,
                    int64_t step_number, const RunFolder& run, Progress& progress) {
  double grad_norm = 0;
  if (o.max_grad_norm > 0) {
    grad_norm = torch::nn::utils::clip_grad_norm_(policy.params, o.max_grad_norm);
  } else {
    double sum = 0;
    for (const auto& p : policy.params)
      if (p.grad().defined()) sum += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
    grad_norm = std::sqrt(sum);
  }
  if (std::isfinite(loss) && std::isfinite(grad_norm)) {
    set_learning_rate(*policy.optimizer, lr);
    policy.optimizer->step();
    return grad_norm;
  }
  progress.finish_line();
  // A NaN in the frozen base makes every step's loss NaN: say which tensor, not "lower --lr".
  model::check_frozen_weights_finite(*policy.model, o.model_dir);
  if (!o.skip_nonfinite)
    fail(
        "step {}: the loss is not finite ({}, grad norm {}); stopped. {} (try a lower --lr, "
        "or --skip-nonfinite to skip such steps)",
        step_number, loss, grad_norm, last_good(run));
  spdlog::warn(
      "step {}: the loss is not finite ({}, grad norm {}); step skipped "
      "(--skip-nonfinite)",
      step_number, loss, grad_norm);
  return grad_norm;
}

void save_step(Policy& policy, const TrainOptions& o, const RunFolder& run,
               const TrainerState& state, Progress& progress) {
  // A finite loss can still be followed by an update that overflows the weights (too large
  // a step); such weights are never written as a checkpoint to resume from.
  for (const auto& p : policy.params)
    if (!torch::isfinite(p).all().item<bool>()) {
      progress.finish_line();
      fail(
          "step {}: the weights are no longer finite after the update; stopped without saving "
          "them. {} (try a lower --lr)",
          state.step, last_good(run));
    }
  // A save that fails (disk full, file-size limit, folder made read-only) leaves nothing
  // under the checkpoint's name (StagingDir) and the earlier checkpoints as they were.
  try {
    save_checkpoint(run.checkpoint(state.step), state, *policy.optimizer,
                    [&](const std::string& dir) { policy.trainable.save_checkpoint_weights(dir); });
  } catch (const std::exception& e) {
    progress.finish_line();
    const std::string why = e.what();
    fail("step {}: saving checkpoint {} failed: {}. {}, untouched; free space, then --resume {}",
         state.step, run.checkpoint(state.step), why.substr(0, why.find('\n')), last_good(run),
         run.root);
  }
  prune_checkpoints(run.root, o.keep_last);
}

void save_result(const Policy& policy, const TrainOptions& o, const RunInputs& in,
                 const RunFolder& run) {
  StagingDir result(run.result(o.full), /*overwrite=*/true);
  policy.trainable.save_final(result.path(), o.model_dir, in.storage.value_or(in.config.dtype));
  result.commit();
}

Interrupted interrupted(int signal, const TrainerState& state, int64_t total_steps,
                        const RunFolder& run, const std::string& command) {
  return Interrupted{signal, fmt::format("stopped by signal {} after step {} of {}; checkpoint "
                                         "{} written. Continue with: zili {} --resume {}",
                                         signal, state.step, total_steps,
                                         run.checkpoint(state.step), command, run.root)};
}

}  // namespace zili::train
