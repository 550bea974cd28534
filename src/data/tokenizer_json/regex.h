// A regular expression on Oniguruma, compiled and searched as tokenizers' SysRegex does (the
// onig crate: default syntax, UTF-8, no options), so tokenizer.json patterns such as Llama 3's
// `(?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|...` match exactly what they match there.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace zili::data::tj {

// A stretch [start, end) of a string, and whether a pattern matched it.
struct Span {
  size_t start = 0, end = 0;
  bool is_match = false;
};

class Regex {
 public:
  // Throws zili::Error "WHERE: \"PATTERN\" is not a valid regex (REASON)".
  Regex(const std::string& pattern, const std::string& where);
  // A pattern matching `literal` itself (tokenizers escapes String patterns the same way).
  static Regex literal(const std::string& literal, const std::string& where);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // The non-overlapping matches in text, in order, as the onig crate's find_iter yields them
  // (an empty match right after a match is skipped).
  void find_all(std::string_view text, std::vector<Span>& matches) const;
  // tokenizers' Pattern::find_matches: spans covering all of text, matched or not; one
  // unmatched empty span for empty text.
  void find_matches(std::string_view text, std::vector<Span>& spans) const;
  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
  std::string pattern_;
};

// Spans covering text for a per-character predicate: each matching character is its own
// matched span (tokenizers' Pattern for Fn(char) -> bool).
template <typename Predicate>
void find_char_matches(std::string_view text, Predicate&& matches, std::vector<Span>& spans);

}  // namespace zili::data::tj

#include "data/tokenizer_json/utf8.h"

namespace zili::data::tj {

template <typename Predicate>
void find_char_matches(std::string_view text, Predicate&& matches, std::vector<Span>& spans) {
  spans.clear();
  if (text.empty()) {
    spans.push_back({0, 0, false});
    return;
  }
  size_t last = 0, i = 0;
  while (i < text.size()) {
    const size_t start = i;
    const char32_t c = next_code_point(text, i);
    if (matches(c)) {
      if (last < start) spans.push_back({last, start, false});
      spans.push_back({start, i, true});
      last = i;
    }
  }
  if (last < text.size()) spans.push_back({last, text.size(), false});
}

}  // namespace zili::data::tj
