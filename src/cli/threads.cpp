// --threads: the CPU threads libtorch uses for math (default: every core).
#include <thread>

#include <torch/torch.h>

#include "cli/commands.h"
#include "util/error.h"

namespace zili::cli {

void add_threads_option(CLI::App& command, int& threads) {
  threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  command.add_option("--threads", threads, "CPU threads for the math")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

void set_threads(int threads) {
  if (threads < 1) fail("--threads must be at least 1 (got {})", threads);
  torch::set_num_threads(threads);
}

}  // namespace zili::cli
