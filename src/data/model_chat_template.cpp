// Finding a checkpoint's Jinja chat template (chat_template.jinja or tokenizer_config.json)
// and rendering conversations with it in the context transformers gives a template.
#include "data/model_chat_template.h"

#include <filesystem>

#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::data {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// tokenizer_config.json's "chat_template": a string, or a list of named templates.
std::optional<std::string> template_in_config(const std::string& path) {
  if (!fs::exists(path)) return std::nullopt;
  const json config = json::parse(read_file(path), nullptr, false);
  if (!config.is_object() || !config.contains("chat_template")) return std::nullopt;
  const json& entry = config.at("chat_template");
  if (entry.is_null()) return std::nullopt;
  if (entry.is_string()) return entry.get<std::string>();
  if (entry.is_array()) {
    for (const json& named : entry)
      if (named.is_object() && named.value("name", "") == "default" && named.contains("template") &&
          named.at("template").is_string())
        return named.at("template").get<std::string>();
    fail(
        "{}: \"chat_template\" is a list of named templates without a \"default\" one; pass "
        "the one to use with --chat-template FILE.jinja",
        path);
  }
  fail("{}: \"chat_template\" must be a string or a list of {{\"name\", \"template\"}} objects",
       path);
}

}  // namespace

ModelChatTemplate ModelChatTemplate::from_source(const std::string& source,
                                                 const std::string& origin,
                                                 const Tokenizer& tokenizer) {
  auto compiled = std::make_shared<const jinja::Template>(jinja::Template::parse(source, origin));
  // transformers passes the tokenizer's special tokens by name (its special_tokens_map):
  // those it has, so a missing one is undefined in the template.
  ordered_json specials = ordered_json::object();
  for (const auto& [name, id] :
       {std::pair{"bos_token", tokenizer.bos_id()}, std::pair{"eos_token", tokenizer.eos_id()},
        std::pair{"unk_token", tokenizer.unk_id()}, std::pair{"pad_token", tokenizer.pad_id()}})
    if (id >= 0) specials[name] = tokenizer.token_text(id);
  return ModelChatTemplate(std::move(compiled), source, origin, std::move(specials));
}

ModelChatTemplate ModelChatTemplate::from_file(const std::string& path,
                                               const Tokenizer& tokenizer) {
  if (!fs::is_regular_file(path))
    fail("{}: no such chat template file (give a .jinja file, or a built-in name)", path);
  return from_source(read_file(path), path, tokenizer);
}

std::optional<ModelChatTemplate> ModelChatTemplate::find(const std::string& dir,
                                                         const Tokenizer& tokenizer) {
  const std::string jinja_path = (fs::path(dir) / "chat_template.jinja").string();
  if (fs::exists(jinja_path)) return from_file(jinja_path, tokenizer);
  const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
  if (auto source = template_in_config(config_path))
    return from_source(*source, config_path, tokenizer);
  return std::nullopt;
}

jinja::Template::Rendered ModelChatTemplate::render(const ordered_json& messages,
                                                    bool add_generation_prompt,
                                                    const ordered_json& tools) const {
  ordered_json context = specials_;
  context["messages"] = messages;
  // As apply_chat_template renders: tools and documents always passed, None when absent.
  context["tools"] = tools;
  context["documents"] = nullptr;
  context["add_generation_prompt"] = add_generation_prompt;
  return compiled_->render(context);
}

}  // namespace zili::data
