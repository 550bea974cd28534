// The pre-tokenizers zili reads. Each splits a piece by matched spans and a behaviour:
// Split by its pattern; ByteLevel by GPT-2's pattern, then maps bytes to its alphabet;
// Metaspace turns spaces into its replacement and splits before each; Digits, Punctuation,
// Whitespace(Split) and BertPreTokenizer by character classes.
#include "data/tokenizer_json/pre_tokenizers.h"

#include "data/tokenizer_json/byte_level.h"
#include "data/tokenizer_json/regex.h"
#include "data/tokenizer_json/utf8.h"

namespace zili::data::tj {
namespace {

// Splits every text piece by spans(text, spans_out) and behavior.
template <typename Spans>
void split_by(std::vector<Piece>& pieces, SplitBehavior behavior, Spans&& spans) {
  std::vector<Span> found, kept;
  split_pieces(pieces, [&](const Piece& piece, std::vector<Piece>& out) {
    spans(piece.text, found);
    apply_split_behavior(found, behavior, kept);
    append_ranges(piece, kept, out);
  });
}

class Split : public PreTokenizer {
 public:
  Split(Regex pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_by(pieces, behavior_, [&](const std::string& text, std::vector<Span>& spans) {
      pattern_.find_matches(text, spans);
      if (invert_)
        for (Span& span : spans) span.is_match = !span.is_match;
    });
  }
  std::string describe() const override { return "Split"; }

 private:
  Regex pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

const Regex& gpt2_pattern() {
  static const Regex regex(
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", "ByteLevel");
  return regex;
}

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    if (add_prefix_space_)
      for (Piece& piece : pieces)
        if (piece.token_id < 0 && !piece.text.empty() && piece.text[0] != ' ')
          piece.text.insert(piece.text.begin(), ' ');
    if (use_regex_)
      split_by(pieces, SplitBehavior::isolated,
               [](const std::string& text, std::vector<Span>& spans) {
                 gpt2_pattern().find_matches(text, spans);
               });
    std::string mapped;
    for (Piece& piece : pieces) {
      if (piece.token_id >= 0) continue;
      mapped.clear();
      append_byte_level(mapped, piece.text);
      piece.text.swap(mapped);
    }
  }
  std::string describe() const override { return "ByteLevel"; }

 private:
  bool add_prefix_space_, use_regex_;
};

enum class PrependScheme { always, first, never };

class Metaspace : public PreTokenizer {
 public:
  Metaspace(char32_t replacement, PrependScheme scheme, bool split)
      : replacement_(replacement), scheme_(scheme), split_(split) {
    append_utf8(replacement_text_, replacement);
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    std::vector<Span> found, kept;
    split_pieces(pieces, [&](const Piece& piece, std::vector<Piece>& out) {
      Piece rewritten{replace_spaces(piece.text), piece.at_origin, -1};
      const bool starts =
          rewritten.text.compare(0, replacement_text_.size(), replacement_text_) == 0;
      // tokenizers' NormalizedString::prepend does nothing to an empty string.
      const bool prepend = !rewritten.text.empty() && !starts &&
                           (scheme_ == PrependScheme::always ||
                            (scheme_ == PrependScheme::first && piece.at_origin));
      if (prepend) rewritten.text.insert(0, replacement_text_);
      if (!split_) {
        out.push_back(std::move(rewritten));
        return;
      }
      find_char_matches(
          rewritten.text, [&](char32_t c) { return c == replacement_; }, found);
      apply_split_behavior(found, SplitBehavior::merged_with_next, kept);
      append_ranges(rewritten, kept, out);
    });
  }
  std::string describe() const override { return "Metaspace"; }

 private:
  std::string replace_spaces(const std::string& text) const {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
      if (c == ' ')
        out += replacement_text_;
      else
        out.push_back(c);
    }
    return out;
  }
  char32_t replacement_;
  std::string replacement_text_;
  PrependScheme scheme_;
  bool split_;
};

// Digits, Punctuation, WhitespaceSplit: a character class and a behaviour.
class CharClassSplit : public PreTokenizer {
 public:
  CharClassSplit(std::string name, bool (*predicate)(char32_t), SplitBehavior behavior)
      : name_(std::move(name)), predicate_(predicate), behavior_(behavior) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_by(pieces, behavior_, [&](const std::string& text, std::vector<Span>& spans) {
      find_char_matches(text, predicate_, spans);
    });
  }
  std::string describe() const override { return name_; }

 private:
  std::string name_;
  bool (*predicate_)(char32_t);
  SplitBehavior behavior_;
};

// Whitespace: keeps the runs of `\w+|[^\w\s]+` (the regex crate's classes), drops the rest.
class Whitespace : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_by(pieces, SplitBehavior::removed, [](const std::string& text, std::vector<Span>& spans) {
      spans.clear();
      size_t last = 0, i = 0;
      while (i < text.size()) {
        const size_t start = i;
        const char32_t c = next_code_point(text, i);
        if (is_whitespace(c)) continue;
        const bool word = is_word(c);
        size_t end = i;
        while (end < text.size()) {
          size_t next = end;
          const char32_t d = next_code_point(text, next);
          if (word ? !is_word(d) : (is_word(d) || is_whitespace(d))) break;
          end = next;
        }
        if (last < start) spans.push_back({last, start, true});
        spans.push_back({start, end, false});
        last = i = end;
      }
      if (last < text.size()) spans.push_back({last, text.size(), true});
    });
  }
  std::string describe() const override { return "Whitespace"; }
};

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& step : steps_) step->pre_tokenize(pieces);
  }
  std::string describe() const override {
    std::string out;
    for (const auto& step : steps_) out += (out.empty() ? "" : " + ") + step->describe();
    return out.empty() ? "none" : out;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

class Chain : public Sequence {
 public:
  using Sequence::Sequence;
  std::string describe() const override { return "BertPreTokenizer"; }
};

SplitBehavior behavior_member(const json& value, const Where& where, SplitBehavior fallback) {
  const json* name = member(value, "behavior", where);
  if (!name || name->is_null()) return fallback;
  SplitBehavior behavior;
  if (!name->is_string() || !parse_split_behavior(name->get<std::string>(), behavior))
    (where / "behavior")
        .fail(
            "expected one of Removed, Isolated, MergedWithPrevious, MergedWithNext, "
            "Contiguous");
  return behavior;
}

PrependScheme prepend_scheme(const json& value, const Where& where) {
  PrependScheme scheme = PrependScheme::always;
  if (const auto name = optional_string(value, "prepend_scheme", where)) {
    if (*name == "always")
      scheme = PrependScheme::always;
    else if (*name == "first")
      scheme = PrependScheme::first;
    else if (*name == "never")
      scheme = PrependScheme::never;
    else
      (where / "prepend_scheme").fail("expected \"always\", \"first\" or \"never\"");
  }
  // Older files: add_prefix_space false means never (and must not contradict the scheme).
  const json* legacy = member(value, "add_prefix_space", where);
  if (legacy && legacy->is_boolean() && !legacy->get<bool>()) {
    if (member(value, "prepend_scheme", where) && scheme != PrependScheme::never)
      (where / "add_prefix_space").fail("add_prefix_space does not match declared prepend_scheme");
    scheme = PrependScheme::never;
  }
  return scheme;
}

bool is_punctuation_char(char32_t c) {
  return is_punctuation(c);
}
bool is_numeric_char(char32_t c) {
  return is_numeric(c);
}
bool is_whitespace_char(char32_t c) {
  return is_whitespace(c);
}

}  // namespace

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const json& value, const Where& where) {
  if (value.is_null()) return nullptr;
  const std::string type = type_of(value, where);
  if (type == "Split") {
    bool is_regex = false;
    const std::string pattern = pattern_member(value, where, is_regex);
    const std::string at = *where.file + ": " + (where / "pattern").path;
    return std::make_unique<Split>(is_regex ? Regex(pattern, at) : Regex::literal(pattern, at),
                                   behavior_member(value, where, SplitBehavior::removed),
                                   bool_member(value, "invert", false, where));
  }
  if (type == "ByteLevel")
    return std::make_unique<ByteLevel>(bool_member(value, "add_prefix_space", true, where),
                                       bool_member(value, "use_regex", true, where));
  if (type == "Metaspace")
    return std::make_unique<Metaspace>(char_member(value, "replacement", where),
                                       prepend_scheme(value, where),
                                       bool_member(value, "split", true, where));
  if (type == "Digits")
    return std::make_unique<CharClassSplit>("Digits", is_numeric_char,
                                            bool_member(value, "individual_digits", false, where)
                                                ? SplitBehavior::isolated
                                                : SplitBehavior::contiguous);
  if (type == "Punctuation")
    return std::make_unique<CharClassSplit>("Punctuation", is_punctuation_char,
                                            behavior_member(value, where, SplitBehavior::isolated));
  if (type == "WhitespaceSplit")
    return std::make_unique<CharClassSplit>("WhitespaceSplit", is_whitespace_char,
                                            SplitBehavior::removed);
  if (type == "Whitespace") return std::make_unique<Whitespace>();
  if (type == "BertPreTokenizer") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    steps.push_back(std::make_unique<CharClassSplit>("WhitespaceSplit", is_whitespace_char,
                                                     SplitBehavior::removed));
    steps.push_back(std::make_unique<CharClassSplit>("Punctuation", is_punctuation_char,
                                                     SplitBehavior::isolated));
    return std::make_unique<Chain>(std::move(steps));
  }
  if (type == "Sequence") {
    const json& list = required(value, "pretokenizers", where);
    if (!list.is_array()) (where / "pretokenizers").fail("expected a list of pre-tokenizers");
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      auto step = parse_pre_tokenizer(list[i], (where / "pretokenizers")[i]);
      if (step) steps.push_back(std::move(step));
    }
    return std::make_unique<Sequence>(std::move(steps));
  }
  (where / "type")
      .fail(type +
            " is not supported; zili reads the pre-tokenizers Split, ByteLevel, "
            "Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit, "
            "BertPreTokenizer and Sequence");
}

}  // namespace zili::data::tj
