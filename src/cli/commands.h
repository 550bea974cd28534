// Each subcommand lives in its own file and registers itself on the root CLI11 app: its
// flags, and a callback that calls the library and prints. Errors are thrown as
// zili::Error and printed by main() as one line.
#pragma once

#include <CLI/CLI.hpp>

namespace zili::cli {

void add_init_command(CLI::App& root);
void add_inspect_command(CLI::App& root);
void add_generate_command(CLI::App& root);
void add_eval_command(CLI::App& root);
void add_tokenize_command(CLI::App& root);
void add_template_command(CLI::App& root);
void add_lora_init_command(CLI::App& root);
void add_merge_command(CLI::App& root);
void add_sft_command(CLI::App& root);
void add_dpo_command(CLI::App& root);
void add_dpo_loss_command(CLI::App& root);
void add_plot_command(CLI::App& root);

// --threads N on a subcommand (default: all cores); apply it with set_threads().
void add_threads_option(CLI::App& command, int& threads);
void set_threads(int threads);

// --device auto|cpu|cuda|cuda:N and --no-fused on a subcommand that runs the model; the
// device is checked by model::resolve_device, --no-fused applied by apply_no_fused().
void add_device_flags(CLI::App& command, std::string& device, bool& no_fused);
void apply_no_fused(bool no_fused);

}  // namespace zili::cli
