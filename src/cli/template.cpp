// `zili template`: what the model really sees. Each JSONL line rendered by the chat template
// sft, dpo and eval would pick (the model's own Jinja, rendered as transformers'
// apply_chat_template renders it, or a built-in), with its token ids and, for a line that
// trains, which tokens the loss covers; a preference pair's prompt, chosen and rejected ids.
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "data/chat_template.h"
#include "data/jsonl.h"
#include "data/preference_data.h"
#include "data/sft_data.h"
#include "data/template_tokenize.h"
#include "data/tokenizer.h"
#include "train/run_setup.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::cli {
namespace {

using nlohmann::ordered_json;

struct TemplateOptions {
  std::string model;
  std::string data;
  std::string chat_template = "auto";
  std::string out;
  bool add_generation_prompt = false;
};

// {"messages": [...]}: the rendered text and its ids; "trained" when the line is an SFT
// example (it ends with an assistant message and no generation prompt is asked for).
ordered_json render_messages(const data::JsonlLine& line, const ordered_json& object,
                             const data::Tokenizer& tokenizer,
                             const train::ChatTemplateChoice& choice, const TemplateOptions& o) {
  const ordered_json& messages = data::template_messages(object, "messages", "message");
  const bool trains = !o.add_generation_prompt && messages.back().is_object() &&
                      messages.back().value("role", "") == "assistant";
  ordered_json out = ordered_json::object();
  if (choice.model_template) {
    const ordered_json tools = object.value("tools", ordered_json());
    const ordered_json kwargs = object.value("chat_template_kwargs", ordered_json());
    if (!kwargs.is_null() && !kwargs.is_object())
      fail("\"chat_template_kwargs\" must be an object");
    out["text"] =
        choice.model_template->render_text(messages, o.add_generation_prompt, tools, kwargs);
    out["ids"] = tokenizer.encode_rendered(out["text"].get<std::string>());
  } else {
    std::vector<data::Message> turns;
    for (const ordered_json& m : messages)
      turns.push_back({m.at("role").get<std::string>(), m.value("content", "")});
    const std::vector<data::ChatPart> parts =
        o.add_generation_prompt ? data::render_prompt(choice.chat_template, turns)
                                : data::render_conversation(choice.chat_template, turns);
    out["text"] = data::join_parts(parts, tokenizer.token_text(tokenizer.bos_id()),
                                   tokenizer.token_text(tokenizer.eos_id()));
    out["ids"] = o.add_generation_prompt ? data::tokenize_prompt_parts(tokenizer, parts)
                                         : data::tokenize_parts(tokenizer, parts).ids;
  }
  if (trains) {
    data::SftDataOptions sft;
    sft.chat_template = choice.chat_template;
    sft.model_template = choice.model_template;
    const data::TokenizedExample example = data::tokenize_sft_line(line, tokenizer, sft);
    out["ids"] = example.ids;
    out["trained"] = example.target;
  }
  return out;
}

ordered_json render_line(const data::JsonlLine& line, const data::Tokenizer& tokenizer,
                         const train::ChatTemplateChoice& choice, const TemplateOptions& o) {
  if (!line.error.empty()) fail("{}", line.error);
  const ordered_json object = ordered_json::parse(line.text);
  if (object.contains("chosen") || object.contains("rejected")) {
    data::PreferenceDataOptions pairs;
    pairs.chat_template = choice.chat_template;
    pairs.model_template = choice.model_template;
    const data::TokenizedPair pair = data::tokenize_preference_line(line, tokenizer, pairs);
    return {
        {"prompt_ids", pair.prompt}, {"chosen_ids", pair.chosen}, {"rejected_ids", pair.rejected}};
  }
  if (object.contains("messages")) return render_messages(line, object, tokenizer, choice, o);
  // text and prompt-completion lines: the ids and targets sft trains on.
  data::SftDataOptions sft;
  sft.chat_template = choice.chat_template;
  sft.model_template = choice.model_template;
  const data::TokenizedExample example = data::tokenize_sft_line(line, tokenizer, sft);
  return {{"ids", example.ids}, {"trained", example.target}};
}

void run_template(const TemplateOptions& options) {
  if (!std::filesystem::is_directory(options.model))
    fail("{}: no such folder (--model takes a checkpoint or tokenizer folder)", options.model);
  const data::Tokenizer tokenizer = data::Tokenizer::load_dir(options.model);
  const train::ChatTemplateChoice choice =
      train::resolve_chat_template(options.chat_template, options.model);
  if (!options.out.empty()) check_writable_file(options.out);
  // Which template auto picked; one given by name or file needs no word.
  if (options.chat_template == "auto") train::log_chat_template(choice);

  std::string output;
  int64_t lines = 0;
  data::for_each_jsonl_line(options.data, [&](data::JsonlLine& line) {
    ++lines;
    ordered_json out;
    try {
      out = render_line(line, tokenizer, choice, options);
    } catch (const Error& e) {
      fail("{}:{}: {}", options.data, line.number, e.what());
    }
    const std::string text =
        out.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
    if (options.out.empty()) {
      std::fputs(text.c_str(), stdout);
    } else {
      output += text;
    }
  });
  if (lines == 0) fail("{}: no lines", options.data);
  if (!options.out.empty()) write_file_atomic(options.out, output);
}

}  // namespace

void add_template_command(CLI::App& root) {
  auto options = std::make_shared<TemplateOptions>();
  CLI::App* cmd = root.add_subcommand(
      "template",
      "Show what the model sees: each JSONL line rendered by its chat template, with token ids "
      "and the tokens trained on");
  cmd->add_option("--model", options->model, "Checkpoint or tokenizer folder")->required();
  cmd->add_option("--data", options->data,
                  "JSONL: {\"messages\": [...]} lines, or any sft or dpo layout")
      ->required();
  cmd->add_flag("--add-generation-prompt", options->add_generation_prompt,
                "Messages end with the header of an assistant turn (as for generation)");
  cmd->add_option("--chat-template", options->chat_template,
                  "auto (the model's own Jinja template), a FILE.jinja, or a built-in: llama2, "
                  "mistral, chatml, zephyr, alpaca, plain")
      ->capture_default_str();
  cmd->add_option("--out", options->out, "Write the JSONL here instead of to stdout");
  cmd->callback([options] { run_template(*options); });
}

}  // namespace zili::cli
