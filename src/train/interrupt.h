// SIGINT / SIGTERM during training: the handler only records the signal; the loop finishes
// its step, writes a checkpoint and stops with a message saying how to resume.
#pragma once

#include <string>

namespace zili::train {

// Installs the handlers (for the life of the process).
void catch_stop_signals();
// Puts the default handlers back (after the last step: the final evaluation and save may be
// interrupted like any program).
void restore_stop_signals();
// The signal received since catch_stop_signals (SIGINT or SIGTERM), or 0.
int stop_signal();

// Thrown by a training loop that stopped on a signal after saving; main() prints the
// message and exits with 128 + signal, the shell's convention.
struct Interrupted {
  int signal;
  std::string message;
};

}  // namespace zili::train
