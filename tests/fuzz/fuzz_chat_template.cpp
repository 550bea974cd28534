// libFuzzer target: the chat-template renderer. The first input byte picks the template and
// where the trainable messages start; the rest is a conversation, messages separated by NUL
// bytes, each a role letter (s, u, a; any other letter is an unknown role) then the content.
// Rendered whole, as a prompt (all but the last message) plus a reply, and joined; and the
// whole input given to the Jinja recogniser. Turns that do not fit a template must be a
// zili::Error.
#include "data/chat_template.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const zili::data::ChatTemplate t = zili::fuzz::chat_template_from(data[0]);
  const size_t trainable_from = data[0] >> 4;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<zili::data::Message> messages;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) {
      const char role = text[start];
      messages.push_back({role == 's'   ? "system"
                          : role == 'u' ? "user"
                          : role == 'a' ? "assistant"
                                        : std::string(1, role),
                          text.substr(start + 1, end - start - 1)});
    }
    start = end + 1;
  }
  zili::fuzz::expect_clean_refusal([&] {
    (void)zili::data::join_parts(zili::data::render_conversation(t, messages, trainable_from));
  });
  if (!messages.empty())
    zili::fuzz::expect_clean_refusal([&] {
      std::vector<zili::data::Message> prompt(messages.begin(), messages.end() - 1);
      auto parts = zili::data::render_prompt(t, prompt);
      for (auto& part : zili::data::render_reply(t, messages.back().content)) parts.push_back(part);
      (void)zili::data::join_parts(parts);
    });
  (void)zili::data::recognise_chat_template(text);
  return 0;
}
