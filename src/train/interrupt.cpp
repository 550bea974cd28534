// Stop signals recorded for the training loop.
#include "train/interrupt.h"

#include <csignal>

namespace zili::train {

static volatile std::sig_atomic_t received_signal = 0;

static void record_signal(int signal) {
  // A second Ctrl-C while the checkpoint is written changes nothing: the step and the save
  // finish, then the run stops.
  received_signal = signal;
}

void catch_stop_signals() {
  struct sigaction action {};
  action.sa_handler = record_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void restore_stop_signals() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

int stop_signal() {
  return received_signal;
}

}  // namespace zili::train
