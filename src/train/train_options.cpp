// Range checks of the shared training flags.
#include "train/train_options.h"

#include <cmath>

#include "train/lr_schedule.h"
#include "util/error.h"

namespace zili::train {

void check_train_options(const TrainOptions& o) {
  if (o.model_dir.empty()) fail("--model is required (a Hugging Face checkpoint folder)");
  if (o.data.empty()) fail("--data is required (a JSONL file)");
  if (o.out.empty()) fail("--out is required (the run folder to create)");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) fail("--lr must be positive (got {})", o.lr);
  if (o.epochs < 1 && o.max_steps <= 0) fail("--epochs must be at least 1 (got {})", o.epochs);
  if (o.max_steps < 0) fail("--max-steps must be >= 0 (got {})", o.max_steps);
  if (o.batch_size < 1) fail("--batch-size must be at least 1 (got {})", o.batch_size);
  if (o.grad_accum < 1) fail("--grad-accum must be at least 1 (got {})", o.grad_accum);
  if (o.weight_decay < 0) fail("--weight-decay must be >= 0 (got {})", o.weight_decay);
  if (o.warmup_steps < 0) fail("--warmup-steps must be >= 0 (got {})", o.warmup_steps);
  if (!(o.warmup_ratio >= 0 && o.warmup_ratio < 1))
    fail("--warmup-ratio must be in [0, 1) (got {})", o.warmup_ratio);
  parse_lr_schedule(o.lr_schedule);
  if (o.max_length < 2) fail("--max-length must be at least 2 (got {})", o.max_length);
  if (o.on_bad_line != "error" && o.on_bad_line != "skip")
    fail("--on-bad-line: \"{}\" is not a policy (use error or skip)", o.on_bad_line);
  if (!(o.eval_fraction >= 0 && o.eval_fraction < 1))
    fail("--eval-fraction must be in [0, 1) (got {})", o.eval_fraction);
  if (!o.eval_data.empty() && o.eval_fraction > 0)
    fail("give --eval-data or --eval-fraction, not both");
  if (o.loss_chunk < 0) fail("--loss-chunk must be >= 0 (got {})", o.loss_chunk);
  if (o.log_every < 1) fail("--log-every must be at least 1 (got {})", o.log_every);
  if (o.save_every < 0) fail("--save-every must be >= 0 (got {})", o.save_every);
  if (o.eval_every < 0) fail("--eval-every must be >= 0 (got {})", o.eval_every);
  if (o.keep_last < 0) fail("--keep-last must be >= 0 (got {})", o.keep_last);
}

}  // namespace zili::train
