// The learning-rate schedule: linear warmup from 0, then cosine decay to 0, linear decay to
// 0, or constant; the same multipliers as transformers' get_*_schedule_with_warmup, so a
// run here and a Trainer run see the same learning rates step for step.
#pragma once

#include <cstdint>
#include <string>

namespace zili::train {

enum class LrSchedule { cosine, linear, constant };

// "cosine" | "linear" | "constant"; zili::Error naming the choices otherwise.
LrSchedule parse_lr_schedule(const std::string& name);

struct LrPlan {
  double peak = 2e-4;
  LrSchedule schedule = LrSchedule::linear;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
};

// Warmup steps from --warmup-steps (when > 0) or else ceil(ratio * total), as transformers.
int64_t warmup_steps_for(int64_t warmup_steps, double warmup_ratio, int64_t total_steps);

// The learning rate of the update made at optimizer step `step` (0-based).
double learning_rate(const LrPlan& plan, int64_t step);

}  // namespace zili::train
