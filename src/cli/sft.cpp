// `zili sft`: supervised fine-tuning of a LoRA adapter (or, with --full, every weight) on
// JSONL data; the flags, then train::run_sft.
#include "train/sft.h"
#include "cli/commands.h"
#include "cli/model_flags.h"
#include "cli/train_flags.h"

namespace zili::cli {

void add_sft_command(CLI::App& root) {
  auto options = std::make_shared<train::SftOptions>();
  auto flags = std::make_shared<TrainFlags>();
  flags->options = &options->train;
  CLI::App* cmd = root.add_subcommand(
      "sft",
      "Supervised fine-tuning (LoRA, or --full) on JSONL: text, prompt/completion or messages");
  add_train_flags(*cmd, *flags);
  cmd->add_option("--chat-template", options->chat_template,
                  "auto (the model's own Jinja template), a FILE.jinja, or a "
                  "built-in: llama2, mistral, chatml, zephyr, alpaca, plain");
  cmd->add_flag("--packing", options->packing,
                "Pack several examples into each row of --max-length tokens (attention kept "
                "inside each example)");
  cmd->callback([cmd, options, flags] {
    resolve_train_flags(*cmd, *flags);
    set_threads(options->train.threads);
    // config.json, the tokenizer and --dtype checked together before anything else.
    if (!options->train.model_dir.empty())
      open_checkpoint(
          ModelFlags{options->train.model_dir, "", options->train.dtype, options->train.device});
    train::run_sft(*options);
  });
}

}  // namespace zili::cli
