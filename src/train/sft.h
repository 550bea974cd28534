// The supervised fine-tuning run (`zili sft`): read and validate the data, set up LoRA (or
// full) training, and run the step loop with checkpoints, resume, evaluation and logging.
#pragma once

#include <string>

#include "data/chat_template.h"
#include "train/train_options.h"

namespace zili::train {

struct SftOptions {
  TrainOptions train;
  std::string chat_template = "auto";
  bool packing = false;
};

void run_sft(const SftOptions& options);

// --chat-template: a named template, or "auto": the one tokenizer_config.json's
// chat_template corresponds to; chatml when it has none or one we do not recognise. `note`
// says which and why, for the log (printed once every input is checked, so that an error
// stays one line).
struct ChatTemplateChoice {
  data::ChatTemplate chat_template;
  std::string note;
  bool unrecognised = false;  // the model's own template is not a built-in one
};
ChatTemplateChoice resolve_chat_template(const std::string& flag, const std::string& model_dir);
void log_chat_template(const ChatTemplateChoice& choice);

}  // namespace zili::train
