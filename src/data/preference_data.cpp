// Preference pairs: each JSONL line checked against the file's layout, its prompt and its two
// completions rendered to chat parts (or, for an implicit prompt, split where the token ids
// part), tokenized so both completions follow the same prompt ids, then truncated or dropped.
#include "data/preference_data.h"

#include <algorithm>
#include <optional>
#include <tuple>

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include "data/json_fields.h"
#include "data/jsonl.h"
#include "data/template_tokenize.h"
#include "util/error.h"

namespace zili::data {

using nlohmann::json;

namespace {

using Kind = ChatPart::Kind;

enum class Layout { explicit_prompt, implicit_prompt, conversational, conversational_implicit };

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::explicit_prompt:
      return "prompt-chosen-rejected";
    case Layout::implicit_prompt:
      return "implicit prompt";
    case Layout::conversational:
      return "conversational prompt-chosen-rejected";
    case Layout::conversational_implicit:
      return "conversational implicit prompt";
  }
  return "?";
}

constexpr const char* kLayouts =
    "{\"prompt\": ..., \"chosen\": ..., \"rejected\": ...} or {\"chosen\": ..., \"rejected\": "
    "...} (strings, or lists of {\"role\": ..., \"content\": ...} messages)";

constexpr const char* kSame = "\"chosen\" and \"rejected\" are the same: no preference to learn";

// The layout a line's keys say, or nullopt when it has neither "chosen" nor "rejected".
std::optional<Layout> layout_of(const json& object) {
  if (!object.contains("chosen") && !object.contains("rejected")) return std::nullopt;
  const auto is_list = [&](const char* key) {
    return object.contains(key) && object.at(key).is_array();
  };
  const bool conversational = is_list("prompt") || is_list("chosen") || is_list("rejected");
  if (object.contains("prompt"))
    return conversational ? Layout::conversational : Layout::explicit_prompt;
  return conversational ? Layout::conversational_implicit : Layout::implicit_prompt;
}

[[noreturn]] void fail_no_layout(const json& object) {
  const bool sft =
      object.contains("completion") || object.contains("messages") || object.contains("text");
  fail("no \"chosen\"/\"rejected\" keys{}; expected {}",
       sft ? " (an SFT layout: zili dpo reads preference pairs)" : "", kLayouts);
}

// A pair before tokenization: the prompt (from BOS) and each completion as chat parts.
struct PairParts {
  std::vector<ChatPart> prompt, chosen, rejected;
};

// The content of the one assistant message a conversational completion must be. after: where
// the messages start, for the reason ("" or " after the 2 messages it shares with ...").
const std::string& one_reply(const std::vector<Message>& messages, const char* key,
                             const std::string& after) {
  if (messages.size() != 1)
    fail("\"{}\"{} must be one assistant message, got {}", key, after,
         messages.empty() ? std::string("none") : fmt::format("{} messages", messages.size()));
  if (messages[0].role != "assistant")
    fail("\"{}\"{} must be one assistant message, got a \"{}\" message", key, after,
         messages[0].role);
  if (messages[0].content.empty()) fail("the \"{}\" message is empty", key);
  return messages[0].content;
}

// render_prompt, its reason prefixed with what the prompt is.
std::vector<ChatPart> prompt_parts(ChatTemplate t, const std::vector<Message>& prompt,
                                   const char* what) {
  try {
    return render_prompt(t, prompt);
  } catch (const Error& e) {
    fail("{}: {}", what, e.what());
  }
}

// {"prompt": "...", "chosen": "...", "rejected": "..."}: TRL's plain layout, the strings
// joined as they are (as SFT's prompt-completion).
PairParts plain_parts(const json& object) {
  std::string prompt = json_string_field(object, "prompt", true);
  std::string chosen = json_string_field(object, "chosen", false);
  std::string rejected = json_string_field(object, "rejected", false);
  return {{{Kind::bos, "", false, true}, {Kind::text, std::move(prompt), false, false}},
          {{Kind::text, std::move(chosen), true, false}},
          {{Kind::text, std::move(rejected), true, false}}};
}

// {"prompt": [messages], "chosen": [reply], "rejected": [reply]}.
PairParts conversational_parts(const json& object, ChatTemplate t) {
  const std::vector<Message> prompt = json_messages_field(object, "prompt", "\"prompt\" message");
  const std::vector<Message> chosen = json_messages_field(object, "chosen", "\"chosen\" message");
  const std::vector<Message> rejected =
      json_messages_field(object, "rejected", "\"rejected\" message");
  return {prompt_parts(t, prompt, "\"prompt\""), render_reply(t, one_reply(chosen, "chosen", "")),
          render_reply(t, one_reply(rejected, "rejected", ""))};
}

// {"chosen": [messages], "rejected": [messages]}: the prompt is the messages both lists begin
// with (TRL's extract_prompt on messages); each must then go on with one assistant message.
PairParts conversational_implicit_parts(const json& object, ChatTemplate t) {
  const std::vector<Message> chosen = json_messages_field(object, "chosen", "\"chosen\" message");
  const std::vector<Message> rejected =
      json_messages_field(object, "rejected", "\"rejected\" message");
  const auto same = [](const Message& a, const Message& b) {
    return a.role == b.role && a.content == b.content;
  };
  const size_t shared =
      std::mismatch(chosen.begin(), chosen.end(), rejected.begin(), rejected.end(), same).first -
      chosen.begin();
  if (shared == chosen.size() && shared == rejected.size()) fail("{}", kSame);
  const std::vector<Message> prompt(chosen.begin(), chosen.begin() + shared);
  const auto rest = [&](const std::vector<Message>& all, const char* key, const char* other) {
    const std::vector<Message> after(all.begin() + shared, all.end());
    return one_reply(after, key,
                     fmt::format(" after the {} message{} it shares with \"{}\"", shared,
                                 shared == 1 ? "" : "s", other));
  };
  return {prompt_parts(t, prompt, "the prompt (the messages \"chosen\" and \"rejected\" share)"),
          render_reply(t, rest(chosen, "chosen", "rejected")),
          render_reply(t, rest(rejected, "rejected", "chosen"))};
}

// The ids after the prompt in the whole sequence (EOS once), tokenized as SFT tokenizes it.
std::vector<int64_t> completion_ids(const Tokenizer& tokenizer,
                                    const std::vector<ChatPart>& prompt_parts,
                                    const std::vector<int64_t>& prompt,
                                    const std::vector<ChatPart>& completion) {
  std::vector<ChatPart> parts = prompt_parts;
  parts.insert(parts.end(), completion.begin(), completion.end());
  const std::vector<int64_t> ids = tokenize_parts(tokenizer, parts).ids;
  // A prompt and its completion never share a token, so the prompt's ids come first whole.
  TORCH_CHECK(ids.size() > prompt.size() && std::equal(prompt.begin(), prompt.end(), ids.begin()),
              "completion_ids: the sequence does not begin with the prompt's ", prompt.size(),
              " ids");
  return {ids.begin() + static_cast<ptrdiff_t>(prompt.size()), ids.end()};
}

TokenizedPair tokenize_pair_parts(const Tokenizer& tokenizer, const PairParts& parts) {
  TokenizedPair pair;
  pair.prompt = tokenize_prompt_parts(tokenizer, parts.prompt);
  pair.chosen = completion_ids(tokenizer, parts.prompt, pair.prompt, parts.chosen);
  pair.rejected = completion_ids(tokenizer, parts.prompt, pair.prompt, parts.rejected);
  if (pair.chosen == pair.rejected) fail("{}", kSame);
  return pair;
}

// {"chosen": "...", "rejected": "..."}: each text tokenized whole (BOS, text, EOS), the
// prompt the ids both begin with (see the header for why ids rather than characters).
TokenizedPair implicit_pair(const Tokenizer& tokenizer, const json& object) {
  const auto whole = [&](const char* key) {
    return tokenize_parts(tokenizer,
                          {{Kind::bos, "", false, true},
                           {Kind::text, json_string_field(object, key, false), true, false}})
        .ids;
  };
  const std::vector<int64_t> chosen = whole("chosen");
  const std::vector<int64_t> rejected = whole("rejected");
  if (chosen == rejected) fail("{}", kSame);
  const auto shared =
      std::mismatch(chosen.begin(), chosen.end(), rejected.begin(), rejected.end()).first -
      chosen.begin();
  TokenizedPair pair;
  pair.prompt.assign(chosen.begin(), chosen.begin() + shared);
  pair.chosen.assign(chosen.begin() + shared, chosen.end());
  pair.rejected.assign(rejected.begin() + shared, rejected.end());
  // EOS is only ever the last token, so neither list is a prefix of the other whole; one text
  // can be a prefix of the other's, leaving that completion only its EOS.
  TORCH_CHECK(!pair.chosen.empty() && !pair.rejected.empty(), "implicit_pair: empty completion");
  for (const auto& [ids, key, other] : {std::tuple{&pair.chosen, "chosen", "rejected"},
                                        std::tuple{&pair.rejected, "rejected", "chosen"}})
    if (ids->size() == 1 && ids->front() == tokenizer.eos_id())
      fail("\"{}\" is the start of \"{}\": its completion after the prompt they share is empty",
           key, other);
  return pair;
}

TokenizedPair tokenize_pair(const json& object, Layout layout, const Tokenizer& tokenizer,
                            ChatTemplate chat_template) {
  switch (layout) {
    case Layout::explicit_prompt:
      return tokenize_pair_parts(tokenizer, plain_parts(object));
    case Layout::implicit_prompt:
      return implicit_pair(tokenizer, object);
    case Layout::conversational:
      return tokenize_pair_parts(tokenizer, conversational_parts(object, chat_template));
    case Layout::conversational_implicit:
      return tokenize_pair_parts(tokenizer, conversational_implicit_parts(object, chat_template));
  }
  TORCH_CHECK(false, "tokenize_pair: unknown layout");
}

// One line in its layout: through the model's Jinja template when there is one and the pair
// is conversational, else through the parts of a built-in template (or none).
TokenizedPair tokenize_line(const JsonlLine& line, Layout layout, const Tokenizer& tokenizer,
                            const PreferenceDataOptions& options) {
  const bool conversational =
      layout == Layout::conversational || layout == Layout::conversational_implicit;
  if (options.model_template && conversational)
    return template_pair(*options.model_template, tokenizer,
                         nlohmann::ordered_json::parse(line.text));
  return tokenize_pair(line.object, layout, tokenizer, options.chat_template);
}

// Cuts both completions to the room the prompt leaves in max_length (the prompt is kept
// whole, as TRL keeps the prompt's tokens when it cuts a completion); a zili::Error when the
// cut pair would hold no preference any more.
void truncate(TokenizedPair& pair, int64_t max_length) {
  const auto P = static_cast<int64_t>(pair.prompt.size());
  const int64_t room = max_length - P;
  if (room < 1)
    fail(
        "the prompt has {} tokens: --max-length {} leaves no room for a completion (the chosen "
        "sequence has {} tokens, the rejected {}); raise --max-length, or pass --drop-overlong "
        "to drop such pairs",
        P, max_length, pair.chosen_length(), pair.rejected_length());
  const auto differ_at = std::mismatch(pair.chosen.begin(), pair.chosen.end(),
                                       pair.rejected.begin(), pair.rejected.end())
                             .first -
                         pair.chosen.begin();
  for (std::vector<int64_t>* ids : {&pair.chosen, &pair.rejected}) {
    if (static_cast<int64_t>(ids->size()) <= room) continue;
    ids->resize(room);
    pair.truncated = true;
  }
  if (pair.chosen == pair.rejected)
    fail(
        "the chosen and rejected sequences ({} and {} tokens) first differ at token {}, past "
        "--max-length {}: cut to it they are the same; raise --max-length, or pass "
        "--drop-overlong to drop such pairs",
        P + static_cast<int64_t>(pair.chosen.size()),
        P + static_cast<int64_t>(pair.rejected.size()), P + differ_at + 1, max_length);
}

}  // namespace

TokenizedPair tokenize_preference_line(const JsonlLine& line, const Tokenizer& tokenizer,
                                       const PreferenceDataOptions& options) {
  if (!line.error.empty()) fail("{}", line.error);
  const std::optional<Layout> layout = layout_of(line.object);
  if (!layout) fail_no_layout(line.object);
  TokenizedPair pair = tokenize_line(line, *layout, tokenizer, options);
  pair.line = line.number;
  return pair;
}

PreferenceDataset read_preference_data(const std::string& path, const Tokenizer& tokenizer,
                                       const PreferenceDataOptions& options) {
  if (options.max_length < 2)
    fail("max length {} is too short: a pair needs at least 2 tokens a sequence",
         options.max_length);
  if (tokenizer.eos_id() < 0)
    fail(
        "{}: the tokenizer has no EOS token, and every completion ends with one; name one "
        "(eos_token in tokenizer_config.json)",
        tokenizer.model_path());
  PreferenceDataset data;
  PreferenceDataStats& stats = data.stats;
  std::optional<Layout> file_layout;
  int64_t layout_line = 0;

  for_each_jsonl_line(path, [&](JsonlLine& line) {
    ++stats.lines;
    std::optional<TokenizedPair> pair;
    bool overlong = false;
    try {
      if (!line.error.empty()) fail("{}", line.error);
      const std::optional<Layout> layout = layout_of(line.object);
      if (!layout) fail_no_layout(line.object);
      if (!file_layout) {
        file_layout = layout;
        layout_line = line.number;
      }
      if (*layout != *file_layout)
        fail("layout {} differs from the file's ({}, from line {})", layout_name(*layout),
             layout_name(*file_layout), layout_line);
      pair = tokenize_line(line, *layout, tokenizer, options);
      overlong = std::max(pair->chosen_length(), pair->rejected_length()) > options.max_length;
      if (overlong && !options.drop_overlong) truncate(*pair, options.max_length);
    } catch (const Error& e) {
      handle_bad_line(options.on_bad_line, path, line.number, e.what(), stats.skipped_bad,
                      stats.skipped_reasons);
      return;
    }
    if (overlong && options.drop_overlong) {
      ++stats.dropped_overlong;
      return;
    }
    pair->line = line.number;
    if (pair->truncated) ++stats.truncated;
    data.pairs.push_back(std::move(*pair));
  });

  stats.pairs = static_cast<int64_t>(data.pairs.size());
  if (file_layout) stats.layout = layout_name(*file_layout);
  if (data.pairs.empty()) {
    if (stats.lines == 0)
      fail("{}: no preference pairs (the file has no non-blank line); expected JSON lines {}", path,
           kLayouts);
    fail(
        "{}: no usable preference pair: of {} lines, {} bad and {} longer than the max length {} "
        "(dropped); expected JSON lines {}",
        path, stats.lines, stats.skipped_bad, stats.dropped_overlong, options.max_length, kLayouts);
  }
  return data;
}

}  // namespace zili::data
