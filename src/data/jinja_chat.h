// A model's own chat template, as transformers finds and renders it: the template text
// (a file given by the user, else DIR/chat_template.jinja, else tokenizer_config.json's
// "chat_template", a string or a list of {"name", "template"}), the special-token strings
// the template sees (bos_token, eos_token, pad_token, unk_token), and the context
// apply_chat_template renders with.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace zili::data {

struct ChatTemplateText {
  std::string text;
  std::string origin;  // where it came from, for messages: "DIR/chat_template.jinja", ...
};

// The template of the folder dir, or of override_file when that is not empty (a missing or
// unreadable file is a zili::Error); nullopt when the folder has none. A tokenizer_config.json
// whose chat_template is a list uses the entry named "default" (zili::Error when none is).
std::optional<ChatTemplateText> find_chat_template(const std::string& dir,
                                                   const std::string& override_file = "");

// The special-token strings of tokenizer_config.json (a string, or an object with
// "content"), filled in from special_tokens_map.json where the config lacks one. Only the
// tokens the folder defines are set: transformers passes no others to the template.
struct SpecialTokenStrings {
  std::optional<std::string> bos, eos, pad, unk;
};
SpecialTokenStrings read_special_token_strings(const std::string& dir);

// The variables apply_chat_template renders with: messages (reasoning copied under
// "thinking" and "reasoning_content" as transformers does), tools and documents (null when
// absent), add_generation_prompt, the special tokens, then extra (TRL's per-example
// chat_template_kwargs, e.g. {"enable_thinking": false}), which win over the others.
nlohmann::ordered_json chat_template_context(const nlohmann::ordered_json& messages,
                                             const nlohmann::ordered_json& tools,
                                             const nlohmann::ordered_json& documents,
                                             bool add_generation_prompt,
                                             const SpecialTokenStrings& specials,
                                             const nlohmann::ordered_json& extra = nullptr);

}  // namespace zili::data
