// What `zili sft` and `zili dpo` set up and do the same way, as plain functions their loops
// call in order: check the inputs before anything is written, load the policy (model, what
// is trained, AdamW), start or resume the trainer state, apply one update, save a checkpoint,
// write the result. Each loop stays one readable function of its own.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "data/chat_template.h"
#include "data/model_chat_template.h"
#include "data/sft_data.h"
#include "data/tokenizer.h"
#include "io/peft_adapter.h"
#include "model/config.h"
#include "model/llama.h"
#include "train/checkpoint.h"
#include "train/interrupt.h"
#include "train/progress.h"
#include "train/run_folder.h"
#include "train/train_options.h"
#include "train/trainable.h"

namespace zili::train {

// --chat-template: a built-in name, a FILE.jinja, or "auto": the model's own Jinja template
// (chat_template.jinja or tokenizer_config.json's chat_template) rendered by zili's Jinja
// engine; the built-in chatml or zephyr when the model's template is the very text
// `zili init --chat-template` writes for it; chatml when the model has none. `note` says
// which and why, for the log (printed once every input is checked, so that an error stays one
// line).
struct ChatTemplateChoice {
  data::ChatTemplate chat_template = data::ChatTemplate::chatml;  // when model_template is null
  std::shared_ptr<const data::ModelChatTemplate> model_template;  // a Jinja template
  std::string note;
  bool unrecognised = false;  // log the note as a warning
  // What names the choice in a fingerprint: the built-in's name, or the Jinja text's hash.
  std::string key() const;
};
ChatTemplateChoice resolve_chat_template(const std::string& flag, const std::string& model_dir);
void log_chat_template(const ChatTemplateChoice& choice);

// The flags, --out, config.json, the tokenizer, --dtype, the chat template and the LoRA
// settings, checked before any data is read or anything written.
struct RunInputs {
  model::ModelConfig config;
  data::Tokenizer tokenizer;
  ChatTemplateChoice chat_template;
  std::optional<c10::ScalarType> storage;  // --dtype, else the checkpoint's
  io::AdapterConfig lora_config;           // unused with --full
  torch::Device device = torch::kCPU;      // --device, resolved
};
RunInputs check_run_inputs(const TrainOptions& o, const std::string& chat_template_flag);

// What a resumed run must find unchanged: the data files, and the base's config.json and
// tokenizer files (plus `extra` files, e.g. the adapter DPO starts from), as fingerprint_files.
std::string run_fingerprint(const TrainOptions& o, const std::vector<std::string>& extra = {});

// Which of `count` examples --eval-fraction holds out: a seeded `fraction` of them (at least
// one, never all; zili::Error otherwise), the same in every run with the same seed.
std::vector<bool> held_out(size_t count, double fraction, uint64_t seed);

// How the data files are read under the flags (--max-length, --drop-overlong, --on-bad-line)
// and the chosen chat template; the same for SFT examples and preference pairs.
data::SftDataOptions data_options(const TrainOptions& o, const ChatTemplateChoice& chat_template);

// The model being trained, what of it is trained, and AdamW over that.
struct Policy {
  model::LlamaForCausalLM model{nullptr};
  Trainable trainable;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::vector<torch::Tensor> params;  // trainable.all()
  int64_t parameter_count = 0;
};
// Weights from the base (or, with --full, the checkpoint being resumed); LoRA adapters
// fresh, from `init_adapter` when given, or from the checkpoint being resumed.
Policy load_policy(const TrainOptions& o, const RunInputs& in,
                   const std::optional<std::string>& resume_from,
                   const std::string& init_adapter = "");

// The trainer state of the checkpoint being resumed (optimizer and random generator
// restored; zili::Error when the inputs' fingerprint changed), or a fresh one (generator
// seeded with --seed).
TrainerState start_or_resume(const TrainOptions& o, const RunFolder& run,
                             const std::optional<std::string>& resume_from, Policy& policy,
                             const std::string& fingerprint, int64_t total_steps);

// After the backward of a step: the global gradient norm (clipped to --max-grad-norm), and
// the AdamW update at `lr` when loss and norm are finite. A non-finite step is skipped with
// --skip-nonfinite (a warning) and stops the run otherwise (zili::Error naming the step and
// the last good checkpoint). Returns the norm.
double apply_update(Policy& policy, const TrainOptions& o, double loss, double lr,
                    int64_t step_number, const RunFolder& run, Progress& progress);

// checkpoints/step-N for `state`, then the old ones pruned to --keep-last. Weights that
// are no longer finite are never saved (zili::Error naming the last good checkpoint).
void save_step(Policy& policy, const TrainOptions& o, const RunFolder& run,
               const TrainerState& state, Progress& progress);

// RUN/adapter (or RUN/model with --full), written aside and renamed into place.
void save_result(const Policy& policy, const TrainOptions& o, const RunInputs& in,
                 const RunFolder& run);

// What a loop throws after saving on SIGINT/SIGTERM.
Interrupted interrupted(int signal, const TrainerState& state, int64_t total_steps,
                        const RunFolder& run, const std::string& command);

}  // namespace zili::train
