// The supervised fine-tuning run (`zili sft`): read and validate the data, set up LoRA (or
// full) training, and run the step loop with checkpoints, resume, evaluation and logging.
#pragma once

#include <string>

#include "train/train_options.h"

namespace zili::train {

struct SftOptions {
  TrainOptions train;
  std::string chat_template = "auto";
  bool packing = false;
};

void run_sft(const SftOptions& options);

}  // namespace zili::train
