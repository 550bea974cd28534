// Finding a model's chat template and building apply_chat_template's context
// (transformers' tokenization_utils_base.apply_chat_template and
// chat_template_utils.render_jinja_template).
#include "data/jinja_chat.h"

#include <filesystem>

#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

std::optional<ordered_json> read_json(const fs::path& path) {
  if (!fs::is_regular_file(path)) return std::nullopt;
  try {
    return ordered_json::parse(read_file(path.string()));
  } catch (const ordered_json::exception& e) {
    fail("{}: not valid JSON ({})", path.string(), e.what());
  }
}

std::optional<std::string> token_string(const ordered_json& config, const char* key) {
  if (!config.is_object() || !config.contains(key)) return std::nullopt;
  const ordered_json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return std::nullopt;
}

// Reasoning under "reasoning_content", "thinking" or "reasoning" is copied to "thinking"
// (first) and "reasoning_content" (last), as transformers' _alias_reasoning_fields does.
ordered_json alias_reasoning(const ordered_json& messages) {
  if (!messages.is_array()) return messages;
  ordered_json out = ordered_json::array();
  for (const ordered_json& message : messages) {
    const ordered_json* reasoning = nullptr;
    if (message.is_object())
      for (const char* key : {"reasoning_content", "thinking", "reasoning"})
        if (!reasoning && message.contains(key) && !message[key].is_null())
          reasoning = &message[key];
    if (!reasoning) {
      out.push_back(message);
      continue;
    }
    ordered_json aliased = ordered_json::object();
    aliased["thinking"] = *reasoning;
    for (const auto& [key, value] : message.items()) aliased[key] = value;
    aliased["reasoning_content"] = *reasoning;
    out.push_back(std::move(aliased));
  }
  return out;
}

}  // namespace

std::optional<ChatTemplateText> find_chat_template(const std::string& dir,
                                                   const std::string& override_file) {
  if (!override_file.empty()) {
    if (!fs::is_regular_file(override_file))
      fail("{}: no such file (--chat-template takes a Jinja template file)", override_file);
    return ChatTemplateText{read_file(override_file), override_file};
  }
  const fs::path jinja = fs::path(dir) / "chat_template.jinja";
  if (fs::is_regular_file(jinja))
    return ChatTemplateText{read_file(jinja.string()), jinja.string()};
  const fs::path config_path = fs::path(dir) / "tokenizer_config.json";
  const std::optional<ordered_json> config = read_json(config_path);
  if (!config || !config->is_object() || !config->contains("chat_template")) return std::nullopt;
  const ordered_json& t = (*config)["chat_template"];
  const std::string origin = config_path.string() + " (chat_template)";
  if (t.is_string()) return ChatTemplateText{t.get<std::string>(), origin};
  if (t.is_array()) {
    for (const ordered_json& entry : t)
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
          entry["template"].is_string())
        return ChatTemplateText{entry["template"].get<std::string>(), origin + "[default]"};
    fail(
        "{}: chat_template is a list without a template named \"default\"; give one with "
        "--chat-template FILE.jinja",
        config_path.string());
  }
  if (t.is_null()) return std::nullopt;
  fail("{}: chat_template must be a string or a list of {{\"name\", \"template\"}}",
       config_path.string());
}

SpecialTokenStrings read_special_token_strings(const std::string& dir) {
  const std::optional<ordered_json> config = read_json(fs::path(dir) / "tokenizer_config.json");
  const std::optional<ordered_json> map = read_json(fs::path(dir) / "special_tokens_map.json");
  const auto pick = [&](const char* key) {
    std::optional<std::string> v = config ? token_string(*config, key) : std::nullopt;
    if (!v && map) v = token_string(*map, key);
    return v;
  };
  return {pick("bos_token"), pick("eos_token"), pick("pad_token"), pick("unk_token")};
}

ordered_json chat_template_context(const ordered_json& messages, const ordered_json& tools,
                                   const ordered_json& documents, bool add_generation_prompt,
                                   const SpecialTokenStrings& specials, const ordered_json& extra) {
  ordered_json context = ordered_json::object();
  context["messages"] = alias_reasoning(messages);
  context["tools"] = tools;
  context["documents"] = documents;
  context["add_generation_prompt"] = add_generation_prompt;
  if (specials.bos) context["bos_token"] = *specials.bos;
  if (specials.eos) context["eos_token"] = *specials.eos;
  if (specials.pad) context["pad_token"] = *specials.pad;
  if (specials.unk) context["unk_token"] = *specials.unk;
  if (extra.is_object())
    for (const auto& [key, value] : extra.items()) context[key] = value;
  return context;
}

}  // namespace zili::data
