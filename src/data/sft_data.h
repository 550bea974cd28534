// Supervised fine-tuning data: JSONL in the layouts TRL and the hub datasets use, read and
// validated in full before training, tokenized with a loss mask that covers only completion
// or assistant tokens, and truncated or dropped to --max-length.
//
// Layouts (one per file, decided by the first line):
//   {"text": "..."}                                   every token trained on
//   {"prompt": "...", "completion": "..."}            completion trained on; plain
//                                                     concatenation, no template
//   {"prompt": [messages], "completion": [messages]}  conversational: the chat template
//   {"messages": [{"role": ..., "content": ...}, ...]} assistant turns trained on
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/chat_template.h"
#include "data/jsonl.h"
#include "data/tokenizer.h"

namespace zili::data {

// One example as token ids. target[t] = 1 when the loss covers predicting ids[t] from
// ids[..t-1] (so target[0] is always 0). EOS ends every example exactly once (a truncated
// one ends where it was cut, without it).
struct TokenizedExample {
  int64_t line = 0;             // 1-based line in the JSONL file
  std::vector<int64_t> ids;     // [T]
  std::vector<uint8_t> target;  // [T]
  bool truncated = false;
  int64_t target_count() const;
};

// The chat parts as ids: BOS/EOS parts become their ids; special-token strings inside
// template text ("</s>", and pieces such as "<|im_end|>" when the vocabulary has them as
// control or user-defined symbols) become their ids; text at the start or right after a BOS
// is encoded as sentencepiece does (with its dummy leading space: each BOS starts a fresh
// encode, as Meta's Llama-2 chat reference tokenizes every turn), every other text run
// without it, so decode(ids) gives back the rendered string (up to that space after an
// inner BOS). Consecutive text parts
// of the same trainability are encoded together; a prompt and its completion never share a
// token. In user content a user-defined piece's text stays text: the run is broken after its
// first character, where sentencepiece would otherwise match it. Appends EOS when the last
// token is not already EOS ("EOS once"), trained on when the last part is.
TokenizedExample tokenize_parts(const Tokenizer& tokenizer, const std::vector<ChatPart>& parts);

// The ids of a prompt alone, no EOS added: the tokens before a completion (or before what a
// model generates), its last text run ending where it ends in the whole sequence.
std::vector<int64_t> tokenize_prompt_parts(const Tokenizer& tokenizer, std::vector<ChatPart> parts);

// The ids that end a reply in template t besides EOS: its end-of-turn marker ("<|im_end|>"),
// when the tokenizer holds it as one control or user-defined piece; empty otherwise (the
// marker is then several ordinary tokens, and a reply ends at EOS).
std::vector<int64_t> end_of_turn_ids(ChatTemplate t, const Tokenizer& tokenizer);

enum class BadLinePolicy { error, skip };

// A malformed line under the policy: with error, throws "FILE:LINE: reason"; with skip,
// counts it and keeps the first five such messages.
void handle_bad_line(BadLinePolicy policy, const std::string& path, int64_t line,
                     const std::string& reason, int64_t& skipped,
                     std::vector<std::string>& first_reasons);

class ModelChatTemplate;

struct SftDataOptions {
  ChatTemplate chat_template = ChatTemplate::chatml;
  // The model's own Jinja template: when set, conversational lines go through it as TRL
  // tokenizes them (template_tokenize.h) and chat_template is not used.
  std::shared_ptr<const ModelChatTemplate> model_template;
  int64_t max_length = 1024;   // tokens per example, EOS included
  bool drop_overlong = false;  // else truncate: keep the start, cut the end (the completion);
                               // an example left with no target token is dropped anyway
  BadLinePolicy on_bad_line = BadLinePolicy::error;
};

struct SftDataStats {
  int64_t lines = 0;     // non-blank lines read
  int64_t examples = 0;  // kept
  int64_t truncated = 0;
  int64_t dropped_overlong = 0;
  int64_t skipped_bad = 0;                   // with BadLinePolicy::skip
  std::vector<std::string> skipped_reasons;  // "FILE:LINE: reason", the first 5
  std::string layout;  // "text", "prompt-completion", "conversational prompt-completion",
                       // "messages"
};

struct SftDataset {
  std::vector<TokenizedExample> examples;
  SftDataStats stats;
};

// One line as read_sft_data tokenizes it, before --max-length applies (`zili template`
// shows it): zili::Error with the reason when the line does not fit a layout.
TokenizedExample tokenize_sft_line(const JsonlLine& line, const Tokenizer& tokenizer,
                                   const SftDataOptions& options);

// Reads and tokenizes the whole file. A bad line (not JSON, not an object, missing key,
// wrong type, empty text/completion, no assistant message, unknown role, a layout other than
// the file's, invalid UTF-8) is a zili::Error "FILE:LINE: reason" under BadLinePolicy::error,
// counted and skipped under skip. A file with no usable example is an error either way.
SftDataset read_sft_data(const std::string& path, const Tokenizer& tokenizer,
                         const SftDataOptions& options);

}  // namespace zili::data
