// The settings every training command shares (`zili sft`, `zili dpo`), with the defaults a
// transformers / TRL / PEFT user expects, and their checks.
#pragma once

#include <cstdint>
#include <string>

namespace zili::train {

struct TrainOptions {
  // What to train on, and where the run goes.
  std::string model_dir;
  std::string data;
  std::string eval_data;
  double eval_fraction = 0;  // held out of --data when no --eval-data
  std::string out;           // the run folder
  std::string resume;        // a run folder to continue
  std::string dtype;         // storage of the frozen base; "" keeps the checkpoint's

  // Optimization (transformers' TrainingArguments defaults, with a LoRA learning rate).
  double lr = 2e-4;
  int64_t epochs = 3;
  int64_t max_steps = 0;  // > 0 overrides epochs
  int64_t batch_size = 8;
  int64_t grad_accum = 1;
  double weight_decay = 0.0;
  double max_grad_norm = 1.0;  // <= 0: no clipping
  int64_t warmup_steps = 0;
  double warmup_ratio = 0.0;
  std::string lr_schedule = "linear";

  // Data.
  int64_t max_length = 1024;
  std::string on_bad_line = "error";
  bool drop_overlong = false;

  // What is trained.
  int64_t lora_r = 16;
  double lora_alpha = 32;
  double lora_dropout = 0.05;
  std::string lora_targets = "all-linear";
  bool rslora = false;
  bool full = false;

  // Memory.
  bool grad_checkpoint = false;
  int64_t loss_chunk = 256;  // positions per logits chunk; 0: all at once

  // The run.
  uint64_t seed = 42;
  int64_t log_every = 10;
  int64_t save_every = 100;
  int64_t eval_every = 0;  // 0: evaluate at the end only
  int64_t keep_last = 3;
  bool skip_nonfinite = false;
  int threads = 1;
  std::string device = "auto";  // model::resolve_device: auto, cpu, cuda, cuda:N
  bool no_fused = false;        // the plain-libtorch references on the GPU too

  std::string config_toml;  // every resolved setting, written to RUN/config.toml
};

// One zili::Error naming the flag for a value out of range (negative lr, r = 0, ...).
void check_train_options(const TrainOptions& options);

}  // namespace zili::train
