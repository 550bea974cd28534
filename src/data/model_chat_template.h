// The model's own chat template (Jinja), parsed once, found where transformers looks for it
// (jinja_chat.h) and rendered in the context apply_chat_template(tokenize=False) gives it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "data/jinja/template.h"
#include "data/jinja_chat.h"

namespace zili::data {

class ModelChatTemplate {
 public:
  // DIR's template (chat_template.jinja, else tokenizer_config.json's chat_template); nullopt
  // when the folder has none. zili::Error naming the file when it cannot be read or parsed.
  static std::optional<ModelChatTemplate> find(const std::string& dir);
  // A .jinja file the user gives (--chat-template FILE.jinja), with DIR's special tokens.
  static ModelChatTemplate from_file(const std::string& path, const std::string& dir);

  // messages: the JSON list of {"role", "content", ...} objects as the data file has them;
  // tools: null or the line's tool schemas; extra: the line's chat_template_kwargs (TRL's),
  // variables such as enable_thinking. Context as chat_template_context builds it.
  jinja::Template::Rendered render(const nlohmann::ordered_json& messages,
                                   bool add_generation_prompt,
                                   const nlohmann::ordered_json& tools = nullptr,
                                   const nlohmann::ordered_json& extra = nullptr) const;
  std::string render_text(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                          const nlohmann::ordered_json& tools = nullptr,
                          const nlohmann::ordered_json& extra = nullptr) const {
    return render(messages, add_generation_prompt, tools, extra).text;
  }

  const std::string& origin() const { return source_.origin; }  // the file it came from
  const std::string& source() const { return source_.text; }    // the template text

 private:
  ModelChatTemplate(ChatTemplateText source, SpecialTokenStrings specials);

  std::shared_ptr<const jinja::Template> compiled_;
  ChatTemplateText source_;
  SpecialTokenStrings specials_;
};

}  // namespace zili::data
