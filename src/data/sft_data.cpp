// SFT data: each JSONL line checked against the file's layout, rendered to chat parts,
// tokenized with its loss targets, then truncated or dropped to the maximum length. A bad
// line is reported as FILE:LINE: reason (or counted and skipped).
#include "data/sft_data.h"

#include <algorithm>
#include <optional>

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include "data/json_fields.h"
#include "data/jsonl.h"
#include "data/template_tokenize.h"
#include "util/error.h"

namespace zili::data {

using nlohmann::json;

int64_t TokenizedExample::target_count() const {
  return std::count(target.begin(), target.end(), uint8_t{1});
}

namespace {

// Builds ids and targets: text is gathered into runs and encoded a run at a time, so a
// special piece, a change of trainability or a forced break ends a run.
class PartEncoder {
 public:
  explicit PartEncoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

  void text(const std::string& s, bool trainable) {
    if (trainable != run_trainable_) flush();
    run_trainable_ = trainable;
    run_ += s;
  }
  void id(int64_t token, bool trainable) {
    flush();
    out_.ids.push_back(token);
    out_.target.push_back(trainable ? 1 : 0);
    // Text after a BOS is encoded as a fresh sentence (with the dummy prefix), as Meta's
    // reference encodes each Llama-2 chat turn: tokenizer.encode(turn, bos=True, eos=True).
    at_start_ = token == tokenizer_.bos_id();
  }
  // Ends the run (the next text is encoded on its own, without a dummy prefix).
  void flush() {
    if (run_.empty()) return;
    const std::vector<int64_t> ids =
        at_start_ ? tokenizer_.encode(run_, false) : tokenizer_.encode_continuation(run_);
    out_.ids.insert(out_.ids.end(), ids.begin(), ids.end());
    out_.target.insert(out_.target.end(), ids.size(), run_trainable_ ? 1 : 0);
    at_start_ = false;
    run_.clear();
  }
  TokenizedExample take() {
    flush();
    return std::move(out_);
  }

 private:
  const Tokenizer& tokenizer_;
  TokenizedExample out_;
  std::string run_;
  bool run_trainable_ = false;
  bool at_start_ = true;  // at the start or just after a BOS: the dummy prefix applies
};

// Template text: every special piece named in it becomes its id.
void encode_template_text(PartEncoder& enc, const Tokenizer& tokenizer, const std::string& text,
                          bool trainable) {
  const auto& specials = tokenizer.special_pieces();
  size_t plain_from = 0;  // start of the text not yet handed to enc
  for (size_t at = 0; at < text.size();) {
    const auto match = std::find_if(specials.begin(), specials.end(), [&](const auto& special) {
      return text.compare(at, special.text.size(), special.text) == 0;
    });
    if (match == specials.end()) {
      ++at;
      continue;
    }
    enc.text(text.substr(plain_from, at - plain_from), trainable);
    enc.id(match->id, trainable);
    at += match->text.size();
    plain_from = at;
  }
  enc.text(text.substr(plain_from), trainable);
}

// The byte length of the UTF-8 character that starts with lead (1 for a stray byte).
size_t utf8_char_length(unsigned char lead) {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

// User content: sentencepiece would turn a user-defined piece's text ("<|im_end|>" typed by
// a user) into that piece wherever it sees it, so the run is broken after the first
// character of each occurrence: the text survives, the special id does not appear.
void encode_content(PartEncoder& enc, const Tokenizer& tokenizer, const std::string& text,
                    bool trainable) {
  const auto& specials = tokenizer.special_pieces();
  size_t from = 0;
  while (true) {
    size_t earliest = std::string::npos;
    for (const auto& special : specials) {
      if (!special.user_defined) continue;
      if (special.text.size() <= utf8_char_length(special.text[0])) continue;  // unsplittable
      earliest = std::min(earliest, text.find(special.text, from));
    }
    if (earliest == std::string::npos) break;
    const size_t cut = earliest + utf8_char_length(static_cast<unsigned char>(text[earliest]));
    enc.text(text.substr(from, cut - from), trainable);
    enc.flush();
    from = cut;
  }
  enc.text(text.substr(from), trainable);
}

}  // namespace

TokenizedExample tokenize_parts(const Tokenizer& tokenizer, const std::vector<ChatPart>& parts) {
  TORCH_CHECK(tokenizer.eos_id() >= 0, "tokenize_parts: the tokenizer has no EOS id");
  PartEncoder enc(tokenizer);
  for (const ChatPart& part : parts) {
    switch (part.kind) {
      case ChatPart::Kind::bos:
        // A tokenizer.json adds BOS where its post-processor does (Qwen2 never does).
        if (tokenizer.bos_id() >= 0 && (tokenizer.add_bos() || !tokenizer.is_tokenizer_json()))
          enc.id(tokenizer.bos_id(), part.trainable);
        break;
      case ChatPart::Kind::eos:
        enc.id(tokenizer.eos_id(), part.trainable);
        break;
      case ChatPart::Kind::text:
        if (part.from_template) {
          encode_template_text(enc, tokenizer, part.text, part.trainable);
        } else {
          encode_content(enc, tokenizer, part.text, part.trainable);
        }
        break;
    }
  }
  TokenizedExample example = enc.take();
  // EOS once: a reply that ends with EOS (zephyr) or whose end-of-turn marker is the EOS
  // piece (chatml with eos_token "<|im_end|>") gets no second one. The added EOS continues
  // the last part, so it is trained on when that part is.
  if (example.ids.empty() || example.ids.back() != tokenizer.eos_id()) {
    example.ids.push_back(tokenizer.eos_id());
    example.target.push_back(!parts.empty() && parts.back().trainable ? 1 : 0);
  }
  example.target[0] = 0;  // nothing before the first token predicts it
  return example;
}

std::vector<int64_t> tokenize_prompt_parts(const Tokenizer& tokenizer,
                                           std::vector<ChatPart> parts) {
  // An EOS part after the prompt, so that tokenize_parts adds none; then dropped.
  parts.push_back({ChatPart::Kind::eos, "", true, true});
  std::vector<int64_t> ids = tokenize_parts(tokenizer, parts).ids;
  ids.pop_back();
  return ids;
}

std::vector<int64_t> end_of_turn_ids(ChatTemplate t, const Tokenizer& tokenizer) {
  std::vector<int64_t> ids;
  for (const ChatPart& part : render_reply(t, "")) {
    if (part.kind != ChatPart::Kind::text || !part.from_template) continue;
    for (const auto& special : tokenizer.special_pieces())
      if (special.text == part.text) ids.push_back(special.id);
  }
  return ids;
}

namespace {

enum class Layout { text, prompt_completion, conversational, messages };

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::text:
      return "text";
    case Layout::prompt_completion:
      return "prompt-completion";
    case Layout::conversational:
      return "conversational prompt-completion";
    case Layout::messages:
      return "messages";
  }
  return "?";
}

constexpr const char* kLayouts =
    "{\"text\": ...}, {\"prompt\": ..., \"completion\": ...} (two strings or two message "
    "lists) or {\"messages\": [{\"role\": ..., \"content\": ...}, ...]}";

// The layout a line's keys say, or nullopt when it has none of them.
std::optional<Layout> layout_of(const json& object) {
  if (object.contains("messages")) return Layout::messages;
  if (object.contains("prompt") || object.contains("completion")) {
    const auto is_list = [&](const char* key) {
      return object.contains(key) && object.at(key).is_array();
    };
    return is_list("prompt") || is_list("completion") ? Layout::conversational
                                                      : Layout::prompt_completion;
  }
  if (object.contains("text")) return Layout::text;
  return std::nullopt;
}

bool has_assistant(const std::vector<Message>& messages) {
  return std::any_of(messages.begin(), messages.end(),
                     [](const Message& m) { return m.role == "assistant"; });
}

// The parts of one line in its layout; zili::Error with the reason when it does not fit.
std::vector<ChatPart> parts_of(const json& object, Layout layout, ChatTemplate chat_template) {
  using Kind = ChatPart::Kind;
  switch (layout) {
    case Layout::text:
      return {{Kind::bos, "", false, true},
              {Kind::text, json_string_field(object, "text", false), true, false}};
    case Layout::prompt_completion: {
      // TRL's plain prompt-completion: the two strings joined as they are.
      std::string prompt = json_string_field(object, "prompt", true);
      std::string completion = json_string_field(object, "completion", false);
      return {{Kind::bos, "", false, true},
              {Kind::text, std::move(prompt), false, false},
              {Kind::text, std::move(completion), true, false}};
    }
    case Layout::conversational: {
      std::vector<Message> messages = json_messages_field(object, "prompt", "\"prompt\" message");
      const std::vector<Message> completion =
          json_messages_field(object, "completion", "\"completion\" message");
      if (!has_assistant(completion))
        fail("\"completion\" has no assistant message: nothing to train on");
      const size_t trainable_from = messages.size();
      messages.insert(messages.end(), completion.begin(), completion.end());
      try {
        return render_conversation(chat_template, messages, trainable_from);
      } catch (const Error& e) {
        fail("{} (numbering the \"prompt\" messages, then the \"completion\" ones)", e.what());
      }
    }
    case Layout::messages: {
      const std::vector<Message> messages = json_messages_field(object, "messages", "message");
      if (!has_assistant(messages))
        fail("\"messages\" has no assistant message: nothing to train on");
      return render_conversation(chat_template, messages);
    }
  }
  TORCH_CHECK(false, "parts_of: unknown layout");
}

// One line in its layout: through the model's Jinja template when there is one and the line
// is conversational, else through the parts of a built-in template (or none).
TokenizedExample tokenize_line(const JsonlLine& line, Layout layout, const Tokenizer& tokenizer,
                               const SftDataOptions& options) {
  const bool conversational = layout == Layout::messages || layout == Layout::conversational;
  if (!options.model_template || !conversational)
    return tokenize_parts(tokenizer, parts_of(line.object, layout, options.chat_template));
  const auto object = nlohmann::ordered_json::parse(line.text);
  return layout == Layout::messages
             ? template_messages_example(*options.model_template, tokenizer, object)
             : template_completion_example(*options.model_template, tokenizer, object);
}

// Cuts an overlong example to max_length; false when it must be dropped instead.
bool fit_length(TokenizedExample& example, const SftDataOptions& options) {
  if (static_cast<int64_t>(example.ids.size()) <= options.max_length) return true;
  if (options.drop_overlong) return false;
  // Keep the start (the prompt and as much of the reply as fits); the cut end loses its EOS.
  example.ids.resize(options.max_length);
  example.target.resize(options.max_length);
  example.truncated = true;
  return example.target_count() > 0;
}

}  // namespace

TokenizedExample tokenize_sft_line(const JsonlLine& line, const Tokenizer& tokenizer,
                                   const SftDataOptions& options) {
  if (!line.error.empty()) fail("{}", line.error);
  const std::optional<Layout> layout = layout_of(line.object);
  if (!layout)
    fail("no \"text\", \"prompt\"/\"completion\" or \"messages\" key; expected {}", kLayouts);
  TokenizedExample example = tokenize_line(line, *layout, tokenizer, options);
  example.line = line.number;
  return example;
}

void handle_bad_line(BadLinePolicy policy, const std::string& path, int64_t line,
                     const std::string& reason, int64_t& skipped,
                     std::vector<std::string>& first_reasons) {
  const std::string message = fmt::format("{}:{}: {}", path, line, reason);
  if (policy == BadLinePolicy::error) throw Error(message);
  ++skipped;
  if (first_reasons.size() < 5) first_reasons.push_back(message);
}

SftDataset read_sft_data(const std::string& path, const Tokenizer& tokenizer,
                         const SftDataOptions& options) {
  if (options.max_length < 2)
    fail("max length {} is too short: an example needs at least 2 tokens", options.max_length);
  if (tokenizer.eos_id() < 0)
    fail(
        "{}: the tokenizer has no EOS token, and every SFT example ends with one; name one "
        "(eos_token in tokenizer_config.json)",
        tokenizer.model_path());
  SftDataset data;
  SftDataStats& stats = data.stats;
  std::optional<Layout> file_layout;
  int64_t layout_line = 0;

  for_each_jsonl_line(path, [&](JsonlLine& line) {
    ++stats.lines;
    std::optional<TokenizedExample> example;
    try {
      if (!line.error.empty()) fail("{}", line.error);
      if (line.object.contains("chosen") && line.object.contains("rejected"))
        fail(
            "a preference pair (\"chosen\"/\"rejected\" keys): zili sft reads {}; train on "
            "pairs with zili dpo",
            kLayouts);
      const std::optional<Layout> layout = layout_of(line.object);
      if (!layout)
        fail("no \"text\", \"prompt\"/\"completion\" or \"messages\" key; expected {}", kLayouts);
      if (!file_layout) {
        file_layout = layout;
        layout_line = line.number;
      }
      if (*layout != *file_layout)
        fail("layout {} differs from the file's ({}, from line {})", layout_name(*layout),
             layout_name(*file_layout), layout_line);
      example = tokenize_line(line, *layout, tokenizer, options);
    } catch (const Error& e) {
      handle_bad_line(options.on_bad_line, path, line.number, e.what(), stats.skipped_bad,
                      stats.skipped_reasons);
      return;
    }
    example->line = line.number;
    TORCH_CHECK(example->target_count() > 0, "line ", line.number, " has no target token");
    if (!fit_length(*example, options)) {
      ++stats.dropped_overlong;
      return;
    }
    if (example->truncated) ++stats.truncated;
    data.examples.push_back(std::move(*example));
  });

  stats.examples = static_cast<int64_t>(data.examples.size());
  if (file_layout) stats.layout = layout_name(*file_layout);
  if (data.examples.empty()) {
    if (stats.lines == 0)
      fail("{}: no examples (the file has no non-blank line); expected JSON lines {}", path,
           kLayouts);
    fail(
        "{}: no usable example: of {} lines, {} bad and {} longer than the max length {} "
        "(dropped); expected JSON lines {}",
        path, stats.lines, stats.skipped_bad, stats.dropped_overlong, options.max_length, kLayouts);
  }
  return data;
}

}  // namespace zili::data
