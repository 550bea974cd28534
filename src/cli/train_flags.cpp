// Shared training flags, recipe files and the --resume settings check.
#include "cli/train_flags.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "cli/commands.h"
#include "util/error.h"

namespace zili::cli {

void add_train_flags(CLI::App& cmd, TrainFlags& flags) {
  train::TrainOptions& o = *flags.options;
  // A flag given twice takes its last value, so a script may append overrides.
  cmd.option_defaults()->always_capture_default()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);
  cmd.add_option("--config", flags.config_file,
                 "Read settings from this TOML file (a recipe, or RUN/config.toml); flags given "
                 "on the command line win")
      ->configurable(false);
  cmd.add_option("--model", o.model_dir,
                 "Base checkpoint folder (config.json, *.safetensors, tokenizer.model)");
  cmd.add_option("--data", o.data, "Training data, JSONL");
  cmd.add_option("--eval-data", o.eval_data,
                 "Held-out data, JSONL, evaluated at --eval-every and at the end");
  cmd.add_option("--eval-fraction", o.eval_fraction,
                 "Hold this fraction of --data out for evaluation instead (seeded)");
  cmd.add_option("--out", o.out, "The run folder to create")->configurable(false);
  cmd.add_option("--resume", o.resume,
                 "Continue the run in this folder from its newest checkpoint, with its settings")
      ->configurable(false);
  cmd.add_option("--dtype", o.dtype,
                 "Storage of the frozen base: bf16, f16 or f32 (default: the checkpoint's)");

  cmd.add_option("--lr", o.lr, "Peak learning rate");
  cmd.add_option("--epochs", o.epochs, "Passes over the data");
  cmd.add_option("--max-steps", o.max_steps, "Optimizer steps (overrides --epochs when > 0)");
  cmd.add_option("--batch-size", o.batch_size, "Examples per batch");
  cmd.add_option("--grad-accum", o.grad_accum, "Batches per optimizer step");
  cmd.add_option("--weight-decay", o.weight_decay, "AdamW decoupled weight decay");
  cmd.add_option("--max-grad-norm", o.max_grad_norm,
                 "Clip the global gradient norm to this (0: off)");
  cmd.add_option("--warmup-steps", o.warmup_steps,
                 "Linear warmup steps (overrides --warmup-ratio)");
  cmd.add_option("--warmup-ratio", o.warmup_ratio, "Linear warmup as a fraction of the steps");
  cmd.add_option("--lr-schedule", o.lr_schedule, "After warmup: cosine, linear or constant");

  cmd.add_option(
      "--max-length", o.max_length,
      "Tokens per example, EOS included; longer ones are truncated (see --drop-overlong)");
  cmd.add_flag("--drop-overlong", o.drop_overlong,
               "Drop examples longer than --max-length instead of truncating");
  cmd.add_option("--on-bad-line", o.on_bad_line,
                 "A malformed JSONL line: error (stop before training) or skip (count it)");

  cmd.add_option("--lora-r", o.lora_r, "LoRA rank r");
  cmd.add_option("--lora-alpha", o.lora_alpha, "LoRA alpha (the update is scaled by alpha / r)");
  cmd.add_option("--lora-dropout", o.lora_dropout, "Dropout on the LoRA path's input");
  cmd.add_option("--lora-targets", o.lora_targets,
                 "Modules to wrap: a comma list (q_proj,v_proj) or all-linear");
  cmd.add_flag("--rslora", o.rslora, "Scale by alpha / sqrt(r) (rsLoRA)");
  cmd.add_flag("--full", o.full, "Train every weight instead of LoRA adapters (small models)");

  cmd.add_flag(
      "--grad-checkpoint", o.grad_checkpoint,
      "Recompute each layer's activations in the backward: less memory, ~1/3 more compute");
  cmd.add_option("--loss-chunk", o.loss_chunk,
                 "Positions per chunk of output logits (0: all at once)");

  cmd.add_option("--seed", o.seed, "Random seed: data order, LoRA init, dropout");
  cmd.add_option("--log-every", o.log_every,
                 "Steps between metrics lines (and log lines off a terminal)");
  cmd.add_option("--save-every", o.save_every, "Steps between checkpoints (0: only at the end)");
  cmd.add_option("--eval-every", o.eval_every, "Steps between evaluations (0: at the end only)");
  cmd.add_option("--keep-last", o.keep_last, "Checkpoints kept (0: all)");
  cmd.add_flag("--skip-nonfinite", o.skip_nonfinite,
               "Skip a step whose loss or gradient is NaN/inf instead of stopping");
  add_threads_option(cmd, o.threads);
  add_device_flags(cmd, o.device, o.no_fused);
}

CLI::Option* add_preference_flags(CLI::App& cmd, std::string& loss, dpo::PreferenceSettings& s) {
  cmd.add_option("--loss", loss, "One of " + dpo::preference_loss_names())->capture_default_str();
  CLI::Option* beta =
      cmd.add_option("--beta", s.beta, "DPO beta (KL strength); not orpo's")->capture_default_str();
  cmd.add_option("--label-smoothing", s.label_smoothing,
                 "cDPO epsilon (sigmoid, simpo), flip rate (robust), EXO epsilon (exo_pair)")
      ->capture_default_str();
  cmd.add_option("--simpo-gamma", s.simpo_gamma, "SimPO target reward margin")
      ->capture_default_str();
  cmd.add_option("--orpo-lambda", s.orpo_lambda, "ORPO odds-ratio weight (TRL's ORPOConfig.beta)")
      ->capture_default_str();
  cmd.add_option("--sft-weight", s.sft_weight,
                 "Weight of + NLL of the chosen (RPO alpha; CPO alpha for simpo)")
      ->capture_default_str();
  return beta;
}

namespace {

// The same setting? Numbers compare by value ("2e-4" and "0.0002").
bool same_value(const std::string& a, const std::string& b) {
  if (a == b) return true;
  try {
    size_t used_a = 0, used_b = 0;
    const double x = std::stod(a, &used_a), y = std::stod(b, &used_b);
    return used_a == a.size() && used_b == b.size() && x == y;
  } catch (const std::exception&) {
    return false;
  }
}

std::string joined(const std::vector<std::string>& values) {
  std::string text;
  for (const auto& v : values) text += (text.empty() ? "" : " ") + v;
  return text;
}

// Paths recorded absolute, so RUN/config.toml works from any folder (--resume, --config).
void make_paths_absolute(CLI::App& cmd) {
  for (const char* name : {"--model", "--data", "--eval-data", "--init-adapter", "--ref-logps"}) {
    CLI::Option* option = cmd.get_option_no_throw(name);
    if (option == nullptr || option->count() == 0 || option->results().empty() ||
        option->results().back().empty())
      continue;
    const std::string absolute =
        std::filesystem::absolute(option->results().back()).lexically_normal();
    option->clear();
    option->add_result(absolute);
    option->run_callback();
  }
}

}  // namespace

void resolve_train_flags(CLI::App& cmd, TrainFlags& flags) {
  train::TrainOptions& o = *flags.options;
  const bool resuming = !o.resume.empty();
  make_paths_absolute(cmd);
  std::string path = flags.config_file;
  if (resuming) {
    if (!flags.config_file.empty())
      fail("--resume takes the run's own settings ({}/config.toml); drop --config", o.resume);
    if (!o.out.empty() && o.out != o.resume)
      fail("--out {} and --resume {} differ; a resumed run writes into its own folder", o.out,
           o.resume);
    o.out = o.resume;
    path = o.resume + "/config.toml";
    if (!std::ifstream(path))
      fail("{}: not a run folder (no config.toml); --resume takes the --out of an earlier run",
           o.resume);
  }
  if (!path.empty()) {
    std::vector<CLI::ConfigItem> items;
    try {
      items = CLI::ConfigTOML().from_file(path);
    } catch (const CLI::Error& e) {
      fail("{}: cannot read settings: {}", path, e.what());
    }
    static const std::set<std::string> may_change_on_resume = {"threads", "log-every", "device",
                                                                "no-fused"};
    for (const CLI::ConfigItem& item : items) {
      if (!item.parents.empty() || item.name == "++" || item.name == "--")
        fail("{}: sections ([{}]) are not settings; write plain key = value lines", path,
             item.parents.empty() ? item.name : item.parents.front());
      CLI::Option* option = cmd.get_option_no_throw("--" + item.name);
      if (option == nullptr || !option->get_configurable())
        fail("{}: \"{}\" is not a setting of zili {} (see zili {} --help)", path, item.name,
             cmd.get_name(), cmd.get_name());
      if (option->count() > 0) {  // given on the command line: it wins, unless resuming
        if (resuming && !may_change_on_resume.count(item.name) &&
            !same_value(option->results().back(), joined(item.inputs)))
          fail(
              "--{} {}: the run {} was started with {} = {}; a resumed run keeps its settings "
              "(start a new --out to change them)",
              item.name, joined(option->results()), o.resume, item.name, joined(item.inputs));
        continue;
      }
      try {
        for (const std::string& value : item.inputs) option->add_result(value);
        option->run_callback();
      } catch (const CLI::Error& e) {
        fail("{}: {} = {}: {}", path, item.name, joined(item.inputs), e.what());
      }
    }
  }
  make_paths_absolute(cmd);
  o.config_toml =
      "# zili " + cmd.get_name() + " settings: every key is also a flag (--key value).\n" +
      "# Repeat this run with: zili " + cmd.get_name() + " --config config.toml --out NEW\n" +
      cmd.config_to_str(/*default_also=*/true, /*write_description=*/true);
}

}  // namespace zili::cli
