// zili: the command-line entry. Registers every subcommand, parses, and turns errors into
// one line on stderr and a non-zero exit (1: the user's input, 2: an internal error).
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "train/interrupt.h"
#include "util/error.h"

namespace {

// The first line of a message: c10::Error appends a C++ backtrace we never show a user.
std::string first_line(const std::string& message) {
  const auto end = message.find('\n');
  return end == std::string::npos ? message : message.substr(0, end);
}

// " init" when the init subcommand was named, else "".
std::string subcommand_of(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) return " " + sub->get_name();
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write fails with EFBIG, which zili reports like a
  // full disk, instead of the process being killed by SIGXFSZ mid-file.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"zili: LoRA fine-tuning, DPO alignment and merging of Llama-family models"};
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       std::string("zili ") + ZILI_VERSION + " (libtorch " + TORCH_VERSION + ")");
  app.get_formatter()->column_width(38);
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  spdlog::set_default_logger(spdlog::stderr_color_mt("zili"));

  zili::cli::add_init_command(app);
  zili::cli::add_inspect_command(app);
  zili::cli::add_generate_command(app);
  zili::cli::add_eval_command(app);
  zili::cli::add_tokenize_command(app);
  zili::cli::add_template_command(app);
  zili::cli::add_lora_init_command(app);
  zili::cli::add_merge_command(app);
  zili::cli::add_sft_command(app);
  zili::cli::add_dpo_command(app);
  zili::cli::add_dpo_loss_command(app);
  zili::cli::add_plot_command(app);

  try {
    app.parse(argc, argv);
  } catch (const zili::train::Interrupted& stop) {
    // Not an error: the run stopped on request after saving; 128 + signal, as shells report.
    std::fprintf(stderr, "zili: %s\n", stop.message.c_str());
    return 128 + stop.signal;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "zili: error: %s (see 'zili%s --help')\n", first_line(e.what()).c_str(),
                 subcommand_of(app).c_str());
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // Permissions, a missing or full folder: the message names the path.
    std::fprintf(stderr, "zili: error: %s\n", first_line(e.what()).c_str());
    return 1;
  } catch (const zili::Error& e) {
    std::fprintf(stderr, "zili: error: %s\n", first_line(e.what()).c_str());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "zili: internal error: %s\n",
                 first_line(e.what_without_backtrace()).c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zili: internal error: %s\n", first_line(e.what()).c_str());
    return 2;
  }
  return 0;
}
