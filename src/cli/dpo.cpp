// `zili dpo`: preference optimization of a LoRA adapter (or every weight) on JSONL pairs,
// with every widely used loss; the flags, then dpo::run_dpo.
#include "dpo/dpo.h"
#include "cli/commands.h"
#include "cli/model_flags.h"
#include "cli/train_flags.h"
#include "util/error.h"

namespace zili::cli {

void add_dpo_command(CLI::App& root) {
  auto options = std::make_shared<dpo::DpoOptions>();
  auto flags = std::make_shared<TrainFlags>();
  flags->options = &options->train;
  // TRL's DPOConfig trains at 1e-6 with full weights; LoRA adapters take a larger step.
  options->train.lr = 5e-6;
  CLI::App* cmd = root.add_subcommand(
      "dpo",
      "Preference optimization (DPO and its variants) on JSONL pairs: prompt, chosen, rejected");
  add_train_flags(*cmd, *flags);
  add_preference_flags(*cmd, options->loss, options->settings);
  cmd->add_option("--chat-template", options->chat_template,
                  "auto (the model's own Jinja template), a FILE.jinja, or a "
                  "built-in: llama2, mistral, chatml, zephyr, alpaca, plain");
  cmd->add_flag("--precompute-ref", options->precompute_ref,
                "Compute every reference log-prob before training and keep them in "
                "RUN/reference_logps.safetensors (reused on --resume)");
  cmd->add_option("--ref-logps", options->ref_logps,
                  "Reuse the reference log-probs of an earlier run (its "
                  "reference_logps.safetensors; checked to be for the same model and data)");
  cmd->add_option("--init-adapter", options->init_adapter,
                  "Start from this (SFT) adapter; the reference is the base plus it, frozen. Its "
                  "config replaces the --lora-* flags");
  cmd->callback([cmd, options, flags] {
    resolve_train_flags(*cmd, *flags);
    if (options->loss == "orpo" && options->settings.beta != dpo::PreferenceSettings{}.beta)
      fail(
          "--beta is not used by orpo: its odds-ratio weight is --orpo-lambda (TRL's "
          "ORPOConfig.beta)");
    set_threads(options->train.threads);
    if (!options->train.model_dir.empty())
      open_checkpoint(ModelFlags{options->train.model_dir, options->init_adapter,
                                 options->train.dtype, options->train.device});
    dpo::run_dpo(*options);
  });
}

}  // namespace zili::cli
