// Preference data for DPO: JSONL pairs in the TRL layouts, read and validated in full before
// training, tokenized as one prompt shared by both answers plus the chosen and the rejected
// completion, and truncated or dropped to --max-length.
//
// Layouts (one per file, decided by the first line that has one):
//   {"prompt": "...", "chosen": "...", "rejected": "..."}   plain concatenation, no template
//   {"chosen": "...", "rejected": "..."}                    implicit prompt: the token ids
//                                                           the two full texts begin with
//   {"prompt": [messages], "chosen": [one assistant message], "rejected": [one assistant
//    message]}                                              conversational: the chat template
//   {"chosen": [messages], "rejected": [messages]}          conversational implicit prompt:
//                                                           the leading messages both share
//
// The implicit prompt of two texts is the longest common prefix of their token ids, each
// text tokenized whole as the SFT "text" layout does (BOS, text, EOS). So the cut is always at
// a token boundary, each sequence is exactly the tokenization of the text as written, and the
// prompt is as long as it can be. TRL's extract_prompt cuts the strings instead, at the first
// differing character, stepping back over one space; the two agree where the texts part at
// a word ("... is 4." / "... is 5."), and differ where they part inside one ("blue" /
// "black": TRL's prompt ends in "bl", ours wherever the vocabulary splits). For the DPO loss
// this changes nothing: tokens both sequences share sit behind the same prefix, so their
// log-probabilities cancel between chosen and rejected. For message lists the prompt is the
// leading messages the two lists share, as TRL's extract_prompt takes it; what follows must
// be one assistant message on each side.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/sft_data.h"
#include "data/tokenizer.h"

namespace zili::data {

// One preference pair as token ids: the chosen sequence is prompt + chosen, the rejected one
// prompt + rejected. The prompt ids are the same for both (tokenize_parts' rules: the dummy
// prefix after BOS, special pieces from template text only, a prompt and its completion never
// share a token); each completion ends with EOS exactly once unless it was truncated.
struct TokenizedPair {
  int64_t line = 0;               // 1-based line in the JSONL file
  std::vector<int64_t> prompt;    // [P]: BOS, then the (rendered) prompt
  std::vector<int64_t> chosen;    // [Tc]: completion ids, not empty
  std::vector<int64_t> rejected;  // [Tr]: completion ids, not empty
  bool truncated = false;         // a completion was cut to fit max_length
  int64_t chosen_length() const { return static_cast<int64_t>(prompt.size() + chosen.size()); }
  int64_t rejected_length() const { return static_cast<int64_t>(prompt.size() + rejected.size()); }
};

// The same settings as SFT data (the CLI shares --chat-template, --max-length,
// --drop-overlong and --on-bad-line). max_length applies to the chosen and to the rejected
// sequence separately, prompt and EOS included. Overlong pairs are truncated (the prompt
// whole, each completion cut to the room left), or dropped with drop_overlong.
using PreferenceDataOptions = SftDataOptions;

struct PreferenceDataStats {
  int64_t lines = 0;  // non-blank lines read
  int64_t pairs = 0;  // kept
  int64_t truncated = 0;
  int64_t dropped_overlong = 0;              // with drop_overlong
  int64_t skipped_bad = 0;                   // with BadLinePolicy::skip
  std::vector<std::string> skipped_reasons;  // "FILE:LINE: reason", the first 5
  std::string layout;  // "prompt-chosen-rejected", "implicit prompt", "conversational
                       // prompt-chosen-rejected", "conversational implicit prompt"
};

struct PreferenceDataset {
  std::vector<TokenizedPair> pairs;
  PreferenceDataStats stats;
};

// One line as read_preference_data tokenizes it, before --max-length applies (`zili template`
// shows it): zili::Error with the reason when the line does not fit a layout.
TokenizedPair tokenize_preference_line(const JsonlLine& line, const Tokenizer& tokenizer,
                                       const PreferenceDataOptions& options);

// Reads and tokenizes the whole file. A bad line is a zili::Error "FILE:LINE: reason" under
// BadLinePolicy::error, counted and skipped under skip: not JSON, not an object, invalid
// UTF-8, no "chosen"/"rejected" key, a missing key, a value of the wrong type, an unknown
// role, a prompt that does not fit the template (it must end with a user message), a
// completion that is not one assistant message, an empty completion, chosen and rejected the
// same (no preference to learn), a layout other than the file's, and a pair that cannot be
// truncated without losing its preference: a prompt that leaves no room for a completion
// within max_length, or completions that are the same once cut. The last kind names the
// lengths and --drop-overlong: unlike SFT, which drops such examples silently, a DPO run
// would otherwise lose exactly its longest prompts unasked. With drop_overlong every
// overlong pair is dropped and counted instead. A file with no usable pair is an error
// either way.
PreferenceDataset read_preference_data(const std::string& path, const Tokenizer& tokenizer,
                                       const PreferenceDataOptions& options);

}  // namespace zili::data
