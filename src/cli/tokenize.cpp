// `zili tokenize`: the token ids (and pieces) of a text under a checkpoint's tokenizer, with
// BOS/EOS as its tokenizer_config.json says; for checking data and comparing with
// transformers. --tokenizer also takes a bare tokenizer.json (Hugging Face tokenizers), and
// --jsonl encodes many texts at once ({"text": ...} in, {"ids": [...], "decoded": ...} out).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

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
  bool text_given = false;  // --text "" is an empty text, not a missing flag
  std::string text_file;
  std::string jsonl;
  bool no_special = false;
  bool skip_special = false;
  bool json = false;
};

std::string read_file(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot read the file given to {}", path, flag);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

data::Tokenizer open_tokenizer(const TokenizeOptions& options) {
  if (!options.model.empty()) return data::Tokenizer::load_dir(options.model);
  return data::Tokenizer::load_file(options.tokenizer);
}

std::string dump(const nlohmann::json& value) {
  // Pieces are UTF-8 in any sane model; a broken one still prints (U+FFFD for bad bytes).
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void run_jsonl(const data::Tokenizer& tokenizer, const TokenizeOptions& options) {
  std::ifstream in(options.jsonl, std::ios::binary);
  if (!in) fail("{}: cannot read the file given to --jsonl", options.jsonl);
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      fail("{}:{}: not a JSON object (--jsonl takes one {{\"text\": ...}} per line)", options.jsonl,
           number);
    }
    if (!object.is_object() || !object.contains("text") || !object["text"].is_string())
      fail("{}:{}: expected {{\"text\": \"...\"}}", options.jsonl, number);
    std::vector<int64_t> ids;
    try {
      ids = tokenizer.encode(object["text"].get<std::string>(), !options.no_special);
    } catch (const Error& e) {
      fail("{}:{}: {}", options.jsonl, number, e.what());
    }
    const nlohmann::json out = {{"ids", ids},
                                {"decoded", tokenizer.decode(ids, options.skip_special)}};
    std::puts(dump(out).c_str());
  }
}

void run_tokenize(const TokenizeOptions& options) {
  if (options.model.empty() == options.tokenizer.empty())
    fail("give exactly one of --model DIR and --tokenizer FILE (tokenizer.model or .json)");
  if (!options.model.empty() && !std::filesystem::is_directory(options.model))
    fail("{}: no such folder (--model takes a checkpoint folder with tokenizer.model)",
         options.model);
  const int inputs = options.text_given + !options.text_file.empty() + !options.jsonl.empty();
  if (inputs != 1) fail("give exactly one of --text, --text-file and --jsonl");
  const data::Tokenizer tokenizer = open_tokenizer(options);
  if (!options.jsonl.empty()) return run_jsonl(tokenizer, options);
  const std::string text =
      options.text_file.empty() ? options.text : read_file(options.text_file, "--text-file");
  const std::vector<int64_t> ids = tokenizer.encode(text, !options.no_special);
  if (!options.json) {
    std::puts(fmt::format("{}", fmt::join(ids, " ")).c_str());
    return;
  }
  nlohmann::json pieces = nlohmann::json::array();
  for (const int64_t id : ids) pieces.push_back(tokenizer.piece(id));
  std::puts(dump({{"ids", ids}, {"pieces", pieces}}).c_str());
}

}  // namespace

void add_tokenize_command(CLI::App& root) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = root.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("--model", options->model, "Checkpoint folder (tokenizer.model + JSON files)");
  cmd->add_option("--tokenizer", options->tokenizer,
                  "A bare tokenizer file instead: a sentencepiece tokenizer.model (BOS added, "
                  "EOS not) or a Hugging Face tokenizer.json (its post-processor's specials)");
  CLI::Option* text = cmd->add_option("--text", options->text, "The text to tokenize");
  cmd->add_option("--text-file", options->text_file, "A file whose whole content is the text");
  cmd->add_option("--jsonl", options->jsonl,
                  "One {\"text\": ...} per line; prints {\"ids\": [...], \"decoded\": ...} each");
  cmd->add_flag("--no-special", options->no_special, "Add no BOS/EOS tokens");
  cmd->add_flag("--skip-special", options->skip_special,
                "With --jsonl: decode without the special tokens");
  cmd->add_flag("--json", options->json, "Print {\"ids\": [...], \"pieces\": [...]}");
  cmd->callback([options, text] {
    options->text_given = text->count() > 0;
    run_tokenize(*options);
  });
}

}  // namespace zili::cli
