// The model's own chat template (Jinja), found where transformers looks for it and rendered
// with the tokenizer's special-token strings, as apply_chat_template(tokenize=False) renders.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "data/jinja/template.h"
#include "data/tokenizer.h"

namespace zili::data {

class ModelChatTemplate {
 public:
  // DIR's template: DIR/chat_template.jinja (where transformers 4.43+ saves it), else
  // tokenizer_config.json's "chat_template" (a string, or a list of {"name", "template"} of
  // which "default" is used); nullopt when the folder has none. zili::Error naming the file
  // when it cannot be read or parsed.
  static std::optional<ModelChatTemplate> find(const std::string& dir, const Tokenizer& tokenizer);
  // A .jinja file given by the user (--chat-template FILE.jinja).
  static ModelChatTemplate from_file(const std::string& path, const Tokenizer& tokenizer);
  // Template text from anywhere; origin names it in messages.
  static ModelChatTemplate from_source(const std::string& source, const std::string& origin,
                                       const Tokenizer& tokenizer);

  // messages: the JSON list of {"role", "content", ...} objects as the data file has them;
  // tools: null or the JSON list of tool schemas. Context as transformers builds it: messages,
  // tools and documents (null when absent), add_generation_prompt, and the special tokens the
  // tokenizer has (bos_token, eos_token, unk_token, pad_token).
  jinja::Template::Rendered render(const nlohmann::ordered_json& messages,
                                   bool add_generation_prompt,
                                   const nlohmann::ordered_json& tools = nullptr) const;
  std::string render_text(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                          const nlohmann::ordered_json& tools = nullptr) const {
    return render(messages, add_generation_prompt, tools).text;
  }

  const std::string& origin() const { return origin_; }  // the file it came from
  const std::string& source() const { return source_; }  // the template text

 private:
  ModelChatTemplate(std::shared_ptr<const jinja::Template> compiled, std::string source,
                    std::string origin, nlohmann::ordered_json specials)
      : compiled_(std::move(compiled)),
        source_(std::move(source)),
        origin_(std::move(origin)),
        specials_(std::move(specials)) {}

  std::shared_ptr<const jinja::Template> compiled_;
  std::string source_, origin_;
  nlohmann::ordered_json specials_;  // {"bos_token": "<s>", ...}
};

}  // namespace zili::data
