// A checkpoint's Jinja chat template, compiled once and rendered per conversation.
#include "data/model_chat_template.h"

namespace zili::data {

using nlohmann::ordered_json;

ModelChatTemplate::ModelChatTemplate(ChatTemplateText source, SpecialTokenStrings specials)
    : compiled_(std::make_shared<const jinja::Template>(
          jinja::Template::parse(source.text, source.origin))),
      source_(std::move(source)),
      specials_(std::move(specials)) {}

std::optional<ModelChatTemplate> ModelChatTemplate::find(const std::string& dir) {
  std::optional<ChatTemplateText> text = find_chat_template(dir);
  if (!text) return std::nullopt;
  return ModelChatTemplate(std::move(*text), read_special_token_strings(dir));
}

ModelChatTemplate ModelChatTemplate::from_file(const std::string& path, const std::string& dir) {
  return ModelChatTemplate(*find_chat_template(dir, path), read_special_token_strings(dir));
}

jinja::Template::Rendered ModelChatTemplate::render(const ordered_json& messages,
                                                    bool add_generation_prompt,
                                                    const ordered_json& tools,
                                                    const ordered_json& extra) const {
  return compiled_->render(
      chat_template_context(messages, tools, nullptr, add_generation_prompt, specials_, extra));
}

}  // namespace zili::data
