// --device and --no-fused: where the model runs, and whether the fused CUDA kernels do.
#include "cli/commands.h"
#include "model/fused.h"

namespace zili::cli {

void add_device_flags(CLI::App& command, std::string& device, bool& no_fused) {
  command
      .add_option("--device", device,
                  "auto (the first GPU when this zili has CUDA and the machine a GPU, else the "
                  "CPU), cpu, cuda or cuda:N")
      ->capture_default_str();
  command.add_flag("--no-fused", no_fused,
                   "On a GPU, run the plain libtorch ops instead of zili's fused CUDA kernels "
                   "(a check, or a workaround)");
}

void apply_no_fused(bool no_fused) {
  model::set_fused_kernels_enabled(!no_fused);
}

}  // namespace zili::cli
