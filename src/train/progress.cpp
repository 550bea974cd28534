// The progress line and the periodic log line.
#include "train/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace zili::train {

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

Progress::Progress(int64_t log_every) : log_every_(log_every), terminal_(isatty(STDERR_FILENO)) {}

Progress::~Progress() {
  finish_line();
}

void Progress::step(const StepReport& r) {
  const double per_step =
      r.steps_this_process > 0 ? r.elapsed_seconds / static_cast<double>(r.steps_this_process) : 0;
  const std::string eta = format_duration(per_step * static_cast<double>(r.total_steps - r.step));
  const std::string text = fmt::format(
      "step {}/{} | loss {:.4f}{} | lr {:.3g} | grad norm {:.3g} | {:.0f} tok/s | ETA {}", r.step,
      r.total_steps, r.loss, r.extra, r.lr, r.grad_norm, r.tokens_per_second, eta);
  if (terminal_) {
    // \r and clear-to-end-of-line: the line is redrawn in place.
    std::fprintf(stderr, "\r%s\033[K", text.c_str());
    std::fflush(stderr);
    line_open_ = true;
  } else if (log_every_ > 0 && (r.step % log_every_ == 0 || r.step == r.total_steps)) {
    spdlog::info("{}", text);
  }
}

void Progress::finish_line() {
  if (!line_open_) return;
  std::fputc('\n', stderr);
  line_open_ = false;
}

}  // namespace zili::train
