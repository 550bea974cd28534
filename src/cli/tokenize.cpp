// `zili tokenize`: the token ids (and pieces) of a text under a checkpoint's tokenizer, with
// BOS/EOS as its tokenizer_config.json says; for checking data and comparing with
// transformers.
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "data/tokenizer.h"
#include "util/error.h"

namespace zili::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string tokenizer;
  std::string text;
  bool no_special = false;
  bool json = false;
};

void run_tokenize(const TokenizeOptions& options) {
  if (options.model.empty() == options.tokenizer.empty())
    fail("give exactly one of --model DIR and --tokenizer FILE.model");
  if (!options.model.empty() && !std::filesystem::is_directory(options.model))
    fail("{}: no such folder (--model takes a checkpoint folder with tokenizer.model)",
         options.model);
  const data::Tokenizer tokenizer = options.model.empty()
                                        ? data::Tokenizer::load_model_file(options.tokenizer)
                                        : data::Tokenizer::load_dir(options.model);
  const std::vector<int64_t> ids = tokenizer.encode(options.text, !options.no_special);
  if (!options.json) {
    std::puts(fmt::format("{}", fmt::join(ids, " ")).c_str());
    return;
  }
  nlohmann::json pieces = nlohmann::json::array();
  for (const int64_t id : ids) pieces.push_back(tokenizer.piece(id));
  const nlohmann::json out = {{"ids", ids}, {"pieces", pieces}};
  // Pieces are UTF-8 in any sane model; a broken one still prints (U+FFFD for bad bytes).
  std::puts(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace

void add_tokenize_command(CLI::App& root) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = root.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("--model", options->model, "Checkpoint folder (tokenizer.model + JSON files)");
  cmd->add_option("--tokenizer", options->tokenizer,
                  "A bare sentencepiece tokenizer.model instead (BOS added, EOS not)");
  cmd->add_option("--text", options->text, "The text to tokenize")->required();
  cmd->add_flag("--no-special", options->no_special, "Add no BOS/EOS tokens");
  cmd->add_flag("--json", options->json, "Print {\"ids\": [...], \"pieces\": [...]}");
  cmd->callback([options] { run_tokenize(*options); });
}

}  // namespace zili::cli
