// The preference-optimization run (`zili dpo`): read and validate the pairs, set up the
// policy (LoRA, optionally from an SFT adapter), and run one readable loop: policy forward
// of chosen and rejected together, reference log-probs (adapters off, no grad, or
// precomputed), the preference loss, backward, step; with the checkpoints, resume, metrics
// and evaluation of `zili sft`.
#pragma once

#include <string>

#include "dpo/preference_loss.h"
#include "train/train_options.h"

namespace zili::dpo {

struct DpoOptions {
  train::TrainOptions train;
  std::string chat_template = "auto";
  std::string loss = "sigmoid";
  PreferenceSettings settings;
  bool precompute_ref = false;
  std::string ref_logps;     // reference log-probs of an earlier run to reuse (key checked)
  std::string init_adapter;  // start from this (SFT) adapter; it is also the reference
};

void run_dpo(const DpoOptions& options);

}  // namespace zili::dpo
