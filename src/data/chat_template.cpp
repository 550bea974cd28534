// The built-in chat templates. Each is written from its published source (cited above its
// pieces below) as: what comes before each message (separator and header), the message,
// what closes it (footer), and the assistant reply with its end-of-turn marker. The reply
// is the trainable part; the headers are not, so a model learns to answer, not to echo the
// format.
#include "data/chat_template.h"

#include <algorithm>
#include <array>
#include <utility>

#include "util/error.h"

namespace zili::data {

namespace {

using Kind = ChatPart::Kind;

constexpr std::array<std::pair<const char*, ChatTemplate>, 6> kNames = {{
    {"llama2", ChatTemplate::llama2},
    {"mistral", ChatTemplate::mistral},
    {"chatml", ChatTemplate::chatml},
    {"zephyr", ChatTemplate::zephyr},
    {"alpaca", ChatTemplate::alpaca},
    {"plain", ChatTemplate::plain},
}};

// Stanford Alpaca's preamble (tatsu-lab/stanford_alpaca, train.py PROMPT_DICT
// "prompt_no_input"); a system message takes its place.
constexpr const char* kAlpacaPreamble =
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.";

// The parts of a sequence being rendered; adjacent text parts with the same flags merge.
class Parts {
 public:
  void text(const std::string& s, bool trainable, bool from_template) {
    if (s.empty()) return;
    if (!parts_.empty()) {
      ChatPart& last = parts_.back();
      if (last.kind == Kind::text && last.trainable == trainable &&
          last.from_template == from_template) {
        last.text += s;
        return;
      }
    }
    parts_.push_back({Kind::text, s, trainable, from_template});
  }
  void tmpl(const std::string& s, bool trainable = false) { text(s, trainable, true); }
  void content(const std::string& s, bool trainable = false) { text(s, trainable, false); }
  void bos() { parts_.push_back({Kind::bos, "", false, true}); }
  void eos(bool trainable) { parts_.push_back({Kind::eos, "", trainable, true}); }
  std::vector<ChatPart> take() { return std::move(parts_); }

 private:
  std::vector<ChatPart> parts_;
};

// Python's str.strip() on ASCII whitespace, per side: the Llama 2 template strips the
// contents it places between [INST] markers.
std::string strip(const std::string& s, bool left = true, bool right = true) {
  constexpr const char* kSpace = " \t\n\r\f\v";
  const size_t begin = left ? s.find_first_not_of(kSpace) : 0;
  if (begin == std::string::npos) return "";
  const size_t end = right ? s.find_last_not_of(kSpace) + 1 : s.size();
  return s.substr(begin, end - begin);
}

// Llama 2 and Mistral fold the system message into the first user turn, and they and
// Alpaca pair each user turn with the reply after it; the others take any order.
bool folds_system(ChatTemplate t) {
  return t == ChatTemplate::llama2 || t == ChatTemplate::mistral;
}
bool needs_alternation(ChatTemplate t) {
  return folds_system(t) || t == ChatTemplate::alpaca;
}

// The reasons a message list does not fit template t (message numbers from 1).
void validate(ChatTemplate t, const std::vector<Message>& messages) {
  size_t turn = 0;  // user/assistant messages so far
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].role;
    if (role != "system" && role != "user" && role != "assistant")
      fail("unknown role \"{}\" in message {} (expected system, user or assistant)", role, i + 1);
    if (role == "system") {
      if (i != 0)
        fail("system message {} must come first (one system message, at the start)", i + 1);
      continue;
    }
    const char* expected = turn % 2 == 0 ? "user" : "assistant";
    if (needs_alternation(t) && role != expected)
      fail(
          "message {} is \"{}\" where {} expects \"{}\": turns must alternate user, assistant, "
          "user, ... (after an optional system message)",
          i + 1, role, chat_template_name(t), expected);
    ++turn;
  }
}

// What comes between two messages (written before every message but the first, and before
// the generation prompt): never trainable, and never at the end of a sequence.
std::string separator(ChatTemplate t) {
  switch (t) {
    case ChatTemplate::chatml:
    case ChatTemplate::zephyr:
    case ChatTemplate::plain:
      return "\n";
    case ChatTemplate::alpaca:
      return "\n\n";
    case ChatTemplate::llama2:
    case ChatTemplate::mistral:
      return "";
  }
  return "";
}

// The header of a message of this role: before its content, never trainable. (The
// Llama 2 / Mistral user turn, with the folded system message, is inst_turn's.)
void header(Parts& out, ChatTemplate t, const std::string& role) {
  switch (t) {
    case ChatTemplate::chatml:
      out.tmpl("<|im_start|>" + role + "\n");
      return;
    case ChatTemplate::zephyr:
      out.tmpl("<|" + role + "|>\n");
      return;
    case ChatTemplate::alpaca:
      if (role == "user") out.tmpl("### Instruction:\n");
      if (role == "assistant") out.tmpl("### Response:\n");
      return;
    case ChatTemplate::llama2:
    case ChatTemplate::mistral:
    case ChatTemplate::plain:
      return;
  }
}

// The reply and its end-of-turn marker.
void reply(Parts& out, ChatTemplate t, const std::string& content, bool trainable) {
  switch (t) {
    case ChatTemplate::llama2:
      // meta-llama/Llama-2-7b-chat-hf chat_template: ' ' + content.strip() + ' ' + eos_token
      // (Meta's llama/generation.py: f"{B_INST} {prompt} {E_INST} {answer} " + EOS).
      out.tmpl(" ", trainable);
      out.content(strip(content), trainable);
      out.tmpl(" ", trainable);
      out.eos(trainable);
      return;
    case ChatTemplate::chatml:
      out.content(content, trainable);
      out.tmpl("<|im_end|>", trainable);
      return;
    case ChatTemplate::mistral:
    case ChatTemplate::zephyr:
    case ChatTemplate::alpaca:
    case ChatTemplate::plain:
      out.content(content, trainable);
      out.eos(trainable);
      return;
  }
}

// A user turn of Llama 2 / Mistral: the instruction markers around the content, the system
// message folded into the first one.
void inst_turn(Parts& out, ChatTemplate t, const std::string& content, const std::string* system,
               bool first_turn) {
  if (t == ChatTemplate::llama2) {
    // meta-llama/Llama-2-7b-chat-hf chat_template: bos_token + '[INST] ' + content.strip() +
    // ' [/INST]', where the first content is '<<SYS>>\n' + system + '\n<</SYS>>\n\n' + user
    // (so the strip reaches the user text's start only without a system message).
    if (!first_turn) out.bos();
    out.tmpl("[INST] ");
    if (system) {
      out.tmpl("<<SYS>>\n");
      out.content(*system);
      out.tmpl("\n<</SYS>>\n\n");
    }
    out.content(strip(content, /*left=*/system == nullptr));
    out.tmpl(" [/INST]");
  } else {
    // mistralai/Mistral-7B-Instruct-v0.2 chat_template: '[INST] ' + content + ' [/INST]'; it
    // has no system role: like Mistral's later templates we put it before the user's text,
    // system + '\n\n' + user (here in the first turn, where Llama 2 has it too).
    out.tmpl("[INST] ");
    if (system) {
      out.content(*system);
      out.tmpl("\n\n");
    }
    out.content(content);
    out.tmpl(" [/INST]");
  }
}

// Messages [0, n) of a validated list; the assistant ones at or after trainable_from are
// trained on. generation_prompt: then the separator and header that start a reply.
std::vector<ChatPart> render(ChatTemplate t, const std::vector<Message>& messages,
                             size_t trainable_from, bool generation_prompt) {
  Parts out;
  out.bos();
  const bool has_system = !messages.empty() && messages[0].role == "system";
  const std::string* system = has_system ? &messages[0].content : nullptr;
  size_t begin = 0;  // the first message rendered in the loop below
  bool first = true;
  if (folds_system(t)) {
    begin = has_system ? 1 : 0;
  } else if (t == ChatTemplate::alpaca) {
    // The system message, or the Stanford preamble in its place, opens the sequence.
    if (system) {
      out.content(*system);
    } else {
      out.tmpl(kAlpacaPreamble);
    }
    begin = has_system ? 1 : 0;
    first = false;
  }
  for (size_t i = begin; i < messages.size(); ++i) {
    const Message& m = messages[i];
    if (!first) out.tmpl(separator(t));
    if (folds_system(t) && m.role == "user") {
      inst_turn(out, t, m.content, i == begin ? system : nullptr, i == begin);
    } else if (m.role == "assistant") {
      header(out, t, m.role);
      reply(out, t, m.content, i >= trainable_from);
    } else {
      header(out, t, m.role);
      out.content(m.content);
      // The footer of a system or user message: chatml's marker, zephyr's EOS
      // (HuggingFaceH4/zephyr-7b-beta: '<|user|>\n' + content + eos_token).
      if (t == ChatTemplate::chatml) out.tmpl("<|im_end|>");
      if (t == ChatTemplate::zephyr) out.eos(false);
    }
    first = false;
  }
  if (generation_prompt) {
    if (!first) out.tmpl(separator(t));
    header(out, t, "assistant");
  }
  return out.take();
}

}  // namespace

ChatTemplate parse_chat_template(const std::string& name) {
  for (const auto& [known, t] : kNames)
    if (name == known) return t;
  fail("unknown chat template \"{}\" (expected llama2, mistral, chatml, zephyr, alpaca or plain)",
       name);
}

const char* chat_template_name(ChatTemplate t) {
  for (const auto& [name, known] : kNames)
    if (t == known) return name;
  return "?";
}

std::optional<ChatTemplate> recognise_chat_template(const std::string& jinja) {
  // Llama 2's template has both "<<SYS>>" and "[INST]": the more specific marker first.
  const std::array<std::pair<const char*, ChatTemplate>, 5> markers = {{
      {"<|im_start|>", ChatTemplate::chatml},
      {"<|assistant|>", ChatTemplate::zephyr},
      {"<<SYS>>", ChatTemplate::llama2},
      {"[INST]", ChatTemplate::mistral},
      {"### Instruction", ChatTemplate::alpaca},
  }};
  for (const auto& [marker, t] : markers)
    if (jinja.find(marker) != std::string::npos) return t;
  return std::nullopt;
}

std::vector<std::string> chat_template_marker_pieces(ChatTemplate t) {
  if (t == ChatTemplate::chatml) return {"<|im_start|>", "<|im_end|>"};
  if (t == ChatTemplate::zephyr) return {"<|system|>", "<|user|>", "<|assistant|>"};
  return {};
}

std::string chat_template_jinja(ChatTemplate t) {
  // chatml: the OpenHermes-2.5 / Qwen template with "{{ bos_token }}" in front, since
  // apply_chat_template tokenizes without adding BOS. zephyr: HuggingFaceH4/zephyr-7b-beta's
  // layout, "<|role|>\n{content}</s>\n" for every role.
  if (t == ChatTemplate::chatml)
    return "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + "
           "'\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if "
           "add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
  if (t == ChatTemplate::zephyr)
    return "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + "
           "message['content'] + eos_token + '\n' }}{% endfor %}{% if add_generation_prompt "
           "%}{{ '<|assistant|>\n' }}{% endif %}";
  fail("no Jinja text for the {} template here (chatml and zephyr have one)",
       chat_template_name(t));
}

// The formats, as our renderer writes them (<s> = BOS, </s> = EOS):
//   llama2   <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {reply} </s><s>[INST] ...
//   mistral  <s>[INST] {system}\n\n{user} [/INST]{reply}</s>[INST] {user} [/INST]{reply}</s>
//   chatml   <s><|im_start|>{role}\n{content}<|im_end|>\n ... generation: <|im_start|>assistant\n
//            (OpenHermes-2.5 / Qwen tokenizer_config chat_template)
//   zephyr   <s><|{role}|>\n{content}</s>\n ... generation: <|assistant|>\n
//   alpaca   <s>{preamble or system}\n\n### Instruction:\n{user}\n\n### Response:\n{reply}</s>
//            (the Stanford prompt; "\n" after "### Response:" as in the tatsu-lab/alpaca
//            "text" column and alpaca-lora)
//   plain    <s>{content}\n{content}\n...{reply}</s>
// The "\n" separator after the last message is not written: the sequence ends with the
// reply's end-of-turn marker, and EOS once.
std::vector<ChatPart> render_conversation(ChatTemplate t, const std::vector<Message>& messages,
                                          size_t trainable_from) {
  validate(t, messages);
  const bool trains =
      std::any_of(messages.begin() + std::min(trainable_from, messages.size()), messages.end(),
                  [](const Message& m) { return m.role == "assistant"; });
  if (!trains) {
    if (trainable_from == 0) fail("no assistant message: nothing to train on");
    fail("no assistant message after the prompt: nothing to train on");
  }
  return render(t, messages, trainable_from, /*generation_prompt=*/false);
}

std::vector<ChatPart> render_prompt(ChatTemplate t, const std::vector<Message>& prompt) {
  validate(t, prompt);
  if (prompt.empty() || prompt.back().role != "user")
    fail("a prompt must end with a user message{}",
         prompt.empty()
             ? " (it has none)"
             : fmt::format(" (message {} is \"{}\")", prompt.size(), prompt.back().role));
  return render(t, prompt, prompt.size(), /*generation_prompt=*/true);
}

std::vector<ChatPart> render_reply(ChatTemplate t, const std::string& content) {
  Parts out;
  reply(out, t, content, /*trainable=*/true);
  return out.take();
}

std::string join_parts(const std::vector<ChatPart>& parts, const std::string& bos,
                       const std::string& eos) {
  std::string joined;
  for (const ChatPart& part : parts)
    joined += part.kind == Kind::bos ? bos : part.kind == Kind::eos ? eos : part.text;
  return joined;
}

}  // namespace zili::data
