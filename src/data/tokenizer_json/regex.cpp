// Oniguruma behind tj::Regex: compile once with the library's default syntax and UTF-8, then
// search repeatedly from the last match end (onig crate find_iter semantics).
#include "data/tokenizer_json/regex.h"

#include <oniguruma.h>

#include <mutex>

#include "util/error.h"

namespace zili::data::tj {

struct Regex::Compiled {
  OnigRegex regex = nullptr;
  ~Compiled() {
    if (regex) onig_free(regex);
  }
};

namespace {

void initialize_oniguruma() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
}

std::string onig_message(int code, OnigErrorInfo* info) {
  OnigUChar buffer[ONIG_MAX_ERROR_MESSAGE_LEN];
  const int length =
      info ? onig_error_code_to_str(buffer, code, info) : onig_error_code_to_str(buffer, code);
  return std::string(reinterpret_cast<const char*>(buffer), length > 0 ? length : 0);
}

// The regex crate's regex::escape: a backslash before each meta character.
std::string escape(const std::string& literal) {
  static constexpr std::string_view meta = "\\.+*?()|[]{}^$#&-~";
  std::string out;
  for (const char c : literal) {
    if (meta.find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& where)
    : compiled_(std::make_unique<Compiled>()), pattern_(pattern) {
  initialize_oniguruma();
  if (find_invalid_utf8(pattern) != npos) fail("{}: the pattern is not valid UTF-8", where);
  OnigErrorInfo info{};
  const auto* begin = reinterpret_cast<const OnigUChar*>(pattern.data());
  const int code = onig_new(&compiled_->regex, begin, begin + pattern.size(), ONIG_OPTION_NONE,
                            ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &info);
  if (code != ONIG_NORMAL) {
    compiled_->regex = nullptr;
    fail("{}: \"{}\" is not a valid regex ({})", where, pattern, onig_message(code, &info));
  }
}

Regex Regex::literal(const std::string& literal, const std::string& where) {
  return Regex(escape(literal), where);
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

void Regex::find_all(std::string_view text, std::vector<Span>& matches) const {
  matches.clear();
  const auto* begin = reinterpret_cast<const OnigUChar*>(text.data());
  const auto* end = begin + text.size();
  OnigRegion* region = onig_region_new();
  size_t last_end = 0;
  bool skip_next_empty = false;
  while (last_end <= text.size()) {
    const int found =
        onig_search(compiled_->regex, begin, end, begin + last_end, end, region, ONIG_OPTION_NONE);
    if (found == ONIG_MISMATCH) break;
    if (found < 0) {
      onig_region_free(region, 1);
      fail("regex \"{}\" failed on the text ({})", pattern_, onig_message(found, nullptr));
    }
    const auto s = static_cast<size_t>(region->beg[0]), e = static_cast<size_t>(region->end[0]);
    last_end = e;
    if (e == s) {
      // Step over the next character so that an empty match cannot repeat forever.
      last_end += e < text.size() ? sequence_length(static_cast<unsigned char>(text[e])) : 1;
      if (skip_next_empty) {
        skip_next_empty = false;
        continue;
      }
    } else {
      skip_next_empty = true;
    }
    matches.push_back({s, e, true});
  }
  onig_region_free(region, 1);
}

void Regex::find_matches(std::string_view text, std::vector<Span>& spans) const {
  spans.clear();
  if (text.empty()) {
    spans.push_back({0, 0, false});
    return;
  }
  std::vector<Span> matches;
  find_all(text, matches);
  size_t previous = 0;
  for (const Span& match : matches) {
    if (previous != match.start) spans.push_back({previous, match.start, false});
    spans.push_back(match);
    previous = match.end;
  }
  if (previous != text.size()) spans.push_back({previous, text.size(), false});
}

}  // namespace zili::data::tj
