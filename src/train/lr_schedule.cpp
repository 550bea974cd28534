// Learning-rate multipliers, after transformers/optimization.py (the lambdas of
// get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup with num_cycles 0.5 and
// get_constant_schedule_with_warmup).
#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace zili::train {

LrSchedule parse_lr_schedule(const std::string& name) {
  if (name == "cosine") return LrSchedule::cosine;
  if (name == "linear") return LrSchedule::linear;
  if (name == "constant") return LrSchedule::constant;
  fail("--lr-schedule: \"{}\" is not a schedule (use cosine, linear or constant)", name);
}

int64_t warmup_steps_for(int64_t warmup_steps, double warmup_ratio, int64_t total_steps) {
  if (warmup_steps > 0) return warmup_steps;
  return static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps)));
}

double learning_rate(const LrPlan& plan, int64_t step) {
  // Warmup: step / warmup, so the first update (step 0) has learning rate 0, as transformers.
  if (step < plan.warmup_steps)
    return plan.peak * static_cast<double>(step) / static_cast<double>(plan.warmup_steps);
  const double decay_steps =
      static_cast<double>(std::max<int64_t>(1, plan.total_steps - plan.warmup_steps));
  const double progress = static_cast<double>(step - plan.warmup_steps) / decay_steps;
  switch (plan.schedule) {
    case LrSchedule::constant:
      return plan.peak;
    case LrSchedule::linear:
      // (total - step) / (total - warmup), floored at 0.
      return plan.peak * std::max(0.0, 1.0 - progress);
    case LrSchedule::cosine:
      // 0.5 (1 + cos(pi progress)), floored at 0.
      return plan.peak * std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
  }
  return plan.peak;
}

}  // namespace zili::train
