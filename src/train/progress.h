// What a user watches during training: on a terminal one line redrawn after every step
// (step/total, loss, lr, tokens/s, ETA); otherwise (a log file, CI) a log line every
// --log-every steps.
#pragma once

#include <cstdint>
#include <string>

namespace zili::train {

struct StepReport {
  int64_t step = 0, total_steps = 0;
  double loss = 0, lr = 0, grad_norm = 0, tokens_per_second = 0;
  double elapsed_seconds = 0;  // of this process's training so far
  int64_t steps_this_process = 0;
  std::string extra;  // appended to the line, e.g. DPO's " | acc 0.75 | margin 0.412"
};

class Progress {
 public:
  explicit Progress(int64_t log_every);
  ~Progress();
  void step(const StepReport& report);
  // Ends the redrawn line (call before printing anything else).
  void finish_line();

 private:
  int64_t log_every_;
  bool terminal_;
  bool line_open_ = false;
};

// "1h02m", "3m12s", "12s".
std::string format_duration(double seconds);

}  // namespace zili::train
