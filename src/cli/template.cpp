// `zili template`: what the model really sees. Each JSONL line's conversation rendered by
// the model's own Jinja chat template as transformers' apply_chat_template renders it, and
// the token ids of that text (no specials added: the template writes its own).
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "data/jinja/template.h"
#include "data/jinja_chat.h"
#include "data/jsonl.h"
#include "data/tokenizer.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::cli {
namespace {

using nlohmann::ordered_json;

struct TemplateOptions {
  std::string model;
  std::string data;
  std::string chat_template;
  std::string out;
  bool add_generation_prompt = false;
};

// One rendered line: {"text": ..., "ids": [...]}.
std::string render_line(const data::jinja::Template& tpl, const data::Tokenizer& tokenizer,
                        const data::SpecialTokenStrings& specials, const ordered_json& line,
                        const TemplateOptions& options, int64_t number) {
  const std::string where = fmt::format("{}:{}", options.data, number);
  if (!line.contains("messages") || !line["messages"].is_array())
    fail("{}: expected a \"messages\" list of {{\"role\", \"content\"}} objects", where);
  const ordered_json extra = line.value("chat_template_kwargs", ordered_json::object());
  if (!extra.is_object()) fail("{}: \"chat_template_kwargs\" must be an object", where);
  const ordered_json context = data::chat_template_context(
      line["messages"], line.value("tools", ordered_json()),
      line.value("documents", ordered_json()), options.add_generation_prompt, specials, extra);
  std::string text;
  try {
    text = tpl.render(context).text;
  } catch (const Error& e) {
    fail("{}: {}", where, e.what());
  }
  const ordered_json out = {{"text", text}, {"ids", tokenizer.encode(text, false)}};
  return out.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

void run_template(const TemplateOptions& options) {
  if (!std::filesystem::is_directory(options.model))
    fail("{}: no such folder (--model takes a checkpoint or tokenizer folder)", options.model);
  const std::optional<data::ChatTemplateText> source =
      data::find_chat_template(options.model, options.chat_template);
  if (!source)
    fail(
        "{}: no chat template (no chat_template.jinja, no \"chat_template\" in "
        "tokenizer_config.json); give one with --chat-template FILE.jinja",
        options.model);
  const data::jinja::Template tpl = data::jinja::Template::parse(source->text, source->origin);
  const data::SpecialTokenStrings specials = data::read_special_token_strings(options.model);
  const data::Tokenizer tokenizer = data::Tokenizer::load_dir(options.model);
  if (!options.out.empty()) check_writable_file(options.out);

  std::ifstream in(options.data, std::ios::binary);
  if (!in) fail("{}: cannot open the data file", options.data);
  std::string output;
  std::string raw;
  int64_t number = 0;
  while (std::getline(in, raw)) {
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    if (raw.find_first_not_of(" \t") == std::string::npos) continue;
    if (const int64_t bad = data::invalid_utf8_byte(raw))
      fail("{}:{}: invalid UTF-8 at byte {}", options.data, number, bad);
    ordered_json line;
    try {
      line = ordered_json::parse(raw);  // ordered: tojson writes keys in the file's order
    } catch (const ordered_json::exception&) {
      fail("{}:{}: not valid JSON", options.data, number);
    }
    if (!line.is_object()) fail("{}:{}: expected a JSON object", options.data, number);
    const std::string rendered = render_line(tpl, tokenizer, specials, line, options, number);
    if (options.out.empty()) {
      std::fputs(rendered.c_str(), stdout);
    } else {
      output += rendered;
    }
  }
  if (number == 0) fail("{}: no lines", options.data);
  if (!options.out.empty()) write_file_atomic(options.out, output);
}

}  // namespace

void add_template_command(CLI::App& root) {
  auto options = std::make_shared<TemplateOptions>();
  CLI::App* cmd = root.add_subcommand(
      "template", "Render JSONL conversations with the model's own chat template (what it sees)");
  cmd->add_option("--model", options->model, "Checkpoint or tokenizer folder")->required();
  cmd->add_option("--data", options->data, "JSONL: one {\"messages\": [...]} per line")->required();
  cmd->add_flag("--add-generation-prompt", options->add_generation_prompt,
                "End with the header of an assistant turn (as for generation)");
  cmd->add_option("--chat-template", options->chat_template,
                  "A Jinja template file instead of the folder's own");
  cmd->add_option("--out", options->out, "Write the JSONL here instead of to stdout");
  cmd->callback([options] { run_template(*options); });
}

}  // namespace zili::cli
