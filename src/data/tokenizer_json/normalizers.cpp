// The normalizers zili reads. Unicode normalization forms come from utf8proc; Lowercase is
// Rust's char::to_lowercase per character; Strip trims White_Space; Replace rewrites every
// non-overlapping match of its (escaped String or Regex) pattern.
#include "data/tokenizer_json/normalizers.h"

#include <utf8proc.h>

#include <cstdlib>
#include <vector>

#include "data/tokenizer_json/regex.h"
#include "data/tokenizer_json/utf8.h"
#include "util/error.h"

namespace zili::data::tj {
namespace {

bool is_ascii(const std::string& text) {
  for (const char c : text)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

class UnicodeForm : public Normalizer {
 public:
  UnicodeForm(std::string name, int options) : name_(std::move(name)), options_(options) {}
  void normalize(std::string& text) const override {
    if (is_ascii(text)) return;  // ASCII is unchanged by all four forms
    utf8proc_uint8_t* result = nullptr;
    const utf8proc_ssize_t length =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                     static_cast<utf8proc_ssize_t>(text.size()), &result,
                     static_cast<utf8proc_option_t>(options_));
    if (length < 0) fail("{} normalization failed: {}", name_, utf8proc_errmsg(length));
    text.assign(reinterpret_cast<const char*>(result), static_cast<size_t>(length));
    std::free(result);
  }
  std::string describe() const override { return name_; }

 private:
  std::string name_;
  int options_;
};

class Lowercase : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) append_lowercase(out, next_code_point(text, i));
    text = std::move(out);
  }
  std::string describe() const override { return "Lowercase"; }
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }
  std::string describe() const override { return "Prepend"; }

 private:
  std::string prefix_;
};

class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    size_t begin = 0, end = text.size();
    if (left_) {
      size_t i = 0;
      while (i < end) {
        size_t next = i;
        if (!is_whitespace(next_code_point(text, next))) break;
        i = next;
      }
      begin = i;
    }
    if (right_) {
      // Walk back over whole characters: find each one's lead byte.
      while (end > begin) {
        size_t lead = end - 1;
        while (lead > begin && (static_cast<unsigned char>(text[lead]) & 0xC0) == 0x80) --lead;
        size_t i = lead;
        if (!is_whitespace(next_code_point(text, i))) break;
        end = lead;
      }
    }
    text = text.substr(begin, end - begin);
  }
  std::string describe() const override { return "Strip"; }

 private:
  bool left_, right_;
};

class Replace : public Normalizer {
 public:
  Replace(Regex pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string& text) const override {
    std::vector<Span> matches;
    pattern_.find_all(text, matches);
    if (matches.empty()) return;
    std::string out;
    out.reserve(text.size());
    size_t last = 0;
    for (const Span& match : matches) {
      out.append(text, last, match.start - last);
      out += content_;
      last = match.end;
    }
    out.append(text, last, std::string::npos);
    text = std::move(out);
  }
  std::string describe() const override { return "Replace"; }

 private:
  Regex pattern_;
  std::string content_;
};

class Sequence : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  void normalize(std::string& text) const override {
    for (const auto& step : steps_) step->normalize(text);
  }
  std::string describe() const override {
    std::string out;
    for (const auto& step : steps_) out += (out.empty() ? "" : " + ") + step->describe();
    return out.empty() ? "none" : out;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> parse_normalizer(const json& value, const Where& where) {
  if (value.is_null()) return nullptr;
  const std::string type = type_of(value, where);
  if (type == "NFC") return std::make_unique<UnicodeForm>(type, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  if (type == "NFD")
    return std::make_unique<UnicodeForm>(type, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
  if (type == "NFKC")
    return std::make_unique<UnicodeForm>(type,
                                         UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  if (type == "NFKD")
    return std::make_unique<UnicodeForm>(type,
                                         UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Prepend") return std::make_unique<Prepend>(string_member(value, "prepend", where));
  if (type == "Strip")
    return std::make_unique<Strip>(bool_member(value, "strip_left", true, where),
                                   bool_member(value, "strip_right", true, where));
  if (type == "Replace") {
    bool is_regex = false;
    const std::string pattern = pattern_member(value, where, is_regex);
    const std::string at = *where.file + ": " + (where / "pattern").path;
    return std::make_unique<Replace>(is_regex ? Regex(pattern, at) : Regex::literal(pattern, at),
                                     string_member(value, "content", where));
  }
  if (type == "Sequence") {
    const json& list = required(value, "normalizers", where);
    if (!list.is_array()) (where / "normalizers").fail("expected a list of normalizers");
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      auto step = parse_normalizer(list[i], (where / "normalizers")[i]);
      if (step) steps.push_back(std::move(step));
    }
    return std::make_unique<Sequence>(std::move(steps));
  }
  (where / "type")
      .fail(type +
            " is not supported; zili reads the normalizers NFC, NFD, NFKC, NFKD, "
            "Lowercase, Prepend, Replace, Strip and Sequence");
}

}  // namespace zili::data::tj
