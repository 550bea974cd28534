// The decoders zili reads. ByteLevel maps each token's characters back to bytes (a token with
// a character outside the alphabet keeps its UTF-8 as is) and repairs the whole with U+FFFD
// as Rust's from_utf8_lossy; ByteFallback turns runs of <0xNN> tokens into their bytes (one
// U+FFFD per byte when they are not UTF-8); Metaspace turns the replacement into spaces (none
// in the first token unless prepend_scheme is never); Strip cuts n copies of a character.
#include "data/tokenizer_json/decoders.h"

#include "data/tokenizer_json/byte_level.h"
#include "data/tokenizer_json/regex.h"
#include "data/tokenizer_json/utf8.h"

namespace zili::data::tj {
namespace {

class ByteLevel : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& token : tokens) {
      const size_t mark = bytes.size();
      size_t i = 0;
      bool all_mapped = true;
      while (i < token.size()) {
        const int b = byte_level_byte(next_code_point(token, i));
        if (b < 0) {
          all_mapped = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
      }
      if (!all_mapped) bytes.replace(mark, std::string::npos, token);
    }
    tokens.assign(1, from_utf8_lossy(bytes));
  }
  std::string describe() const override { return "ByteLevel"; }
};

class Metaspace : public Decoder {
 public:
  Metaspace(char32_t replacement, bool strip_first) : strip_first_(strip_first) {
    append_utf8(replacement_, replacement);
  }
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t t = 0; t < tokens.size(); ++t) {
      const std::string space = t == 0 && strip_first_ ? "" : " ";
      std::string out;
      size_t from = 0, at;
      while ((at = tokens[t].find(replacement_, from)) != std::string::npos) {
        out.append(tokens[t], from, at - from);
        out += space;
        from = at + replacement_.size();
      }
      out.append(tokens[t], from, std::string::npos);
      tokens[t] = std::move(out);
    }
  }
  std::string describe() const override { return "Metaspace"; }

 private:
  std::string replacement_;
  bool strip_first_;
};

class ByteFallback : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;  // bytes of the <0xNN> run so far
    const auto flush = [&] {
      if (pending.empty()) return;
      if (is_valid_utf8(pending))
        out.push_back(pending);
      else
        for (size_t k = 0; k < pending.size(); ++k) out.push_back("\xEF\xBF\xBD");
      pending.clear();
    };
    for (std::string& token : tokens) {
      int byte = -1;
      if (token.size() == 6 && token.compare(0, 3, "<0x") == 0 && token[5] == '>')
        byte = hex_byte(token[3], token[4]);
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
        continue;
      }
      flush();
      out.push_back(std::move(token));
    }
    flush();
    tokens = std::move(out);
  }
  std::string describe() const override { return "ByteFallback"; }

 private:
  // Rust's u8::from_str_radix(.., 16) on two characters (either case).
  static int hex_byte(char high, char low) {
    const auto digit = [](char c) {
      return c >= '0' && c <= '9'   ? c - '0'
             : c >= 'a' && c <= 'f' ? c - 'a' + 10
             : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                    : -1;
    };
    const int h = digit(high), l = digit(low);
    return h < 0 || l < 0 ? -1 : h * 16 + l;
  }
};

class Fuse : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& token : tokens) all += token;
    tokens.assign(1, std::move(all));
  }
  std::string describe() const override { return "Fuse"; }
};

class Strip : public Decoder {
 public:
  Strip(char32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) {
      std::vector<char32_t> chars;
      for (size_t i = 0; i < token.size();) chars.push_back(next_code_point(token, i));
      size_t begin = 0, end = chars.size();
      while (begin < start_ && begin < chars.size() && chars[begin] == content_) ++begin;
      for (size_t k = 0; k < stop_ && end > begin && chars[end - 1] == content_; ++k) --end;
      std::string out;
      for (size_t k = begin; k < end; ++k) append_utf8(out, chars[k]);
      token = std::move(out);
    }
  }
  std::string describe() const override { return "Strip"; }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class Replace : public Decoder {
 public:
  Replace(Regex pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<Span> matches;
    for (std::string& token : tokens) {
      pattern_.find_all(token, matches);
      if (matches.empty()) continue;
      std::string out;
      size_t last = 0;
      for (const Span& match : matches) {
        out.append(token, last, match.start - last);
        out += content_;
        last = match.end;
      }
      out.append(token, last, std::string::npos);
      token = std::move(out);
    }
  }
  std::string describe() const override { return "Replace"; }

 private:
  Regex pattern_;
  std::string content_;
};

// BPEDecoder: the end-of-word suffix becomes a space, except in the last token.
class SuffixDecoder : public Decoder {
 public:
  explicit SuffixDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t t = 0; t < tokens.size(); ++t) {
      const std::string by = t + 1 == tokens.size() ? "" : " ";
      std::string out;
      size_t from = 0, at;
      while (!suffix_.empty() && (at = tokens[t].find(suffix_, from)) != std::string::npos) {
        out.append(tokens[t], from, at - from);
        out += by;
        from = at + suffix_.size();
      }
      out.append(tokens[t], from, std::string::npos);
      tokens[t] = std::move(out);
    }
  }
  std::string describe() const override { return "BPEDecoder"; }

 private:
  std::string suffix_;
};

class Sequence : public Decoder {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_) step->decode_chain(tokens);
  }
  std::string describe() const override {
    std::string out;
    for (const auto& step : steps_) out += (out.empty() ? "" : " + ") + step->describe();
    return out;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

size_t count_member(const json& value, const char* key, const Where& where) {
  const int64_t n = int_member(value, key, where);
  if (n < 0) (where / key).fail("expected a count from 0");
  return static_cast<size_t>(n);
}

}  // namespace

std::unique_ptr<Decoder> parse_decoder(const json& value, const Where& where) {
  if (value.is_null()) return nullptr;
  const std::string type = type_of(value, where);
  if (type == "ByteLevel") return std::make_unique<ByteLevel>();
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Metaspace") {
    // The first token loses its replacement unless the scheme is "never" (or the older
    // add_prefix_space is false).
    bool strip_first = bool_member(value, "add_prefix_space", true, where);
    if (const auto scheme = optional_string(value, "prepend_scheme", where))
      strip_first = strip_first && *scheme != "never";
    return std::make_unique<Metaspace>(char_member(value, "replacement", where), strip_first);
  }
  if (type == "Strip")
    return std::make_unique<Strip>(char_member(value, "content", where),
                                   count_member(value, "start", where),
                                   count_member(value, "stop", where));
  if (type == "Replace") {
    bool is_regex = false;
    const std::string pattern = pattern_member(value, where, is_regex);
    const std::string at = *where.file + ": " + (where / "pattern").path;
    return std::make_unique<Replace>(is_regex ? Regex(pattern, at) : Regex::literal(pattern, at),
                                     string_member(value, "content", where));
  }
  if (type == "BPEDecoder")
    return std::make_unique<SuffixDecoder>(
        optional_string(value, "suffix", where).value_or("</w>"));
  if (type == "Sequence") {
    const json& list = required(value, "decoders", where);
    if (!list.is_array()) (where / "decoders").fail("expected a list of decoders");
    std::vector<std::unique_ptr<Decoder>> steps;
    for (size_t i = 0; i < list.size(); ++i)
      if (auto step = parse_decoder(list[i], (where / "decoders")[i]))
        steps.push_back(std::move(step));
    return std::make_unique<Sequence>(std::move(steps));
  }
  (where / "type")
      .fail(type +
            " is not supported; zili reads the decoders ByteLevel, Metaspace, "
            "ByteFallback, Fuse, Strip, Replace, BPEDecoder and Sequence");
}

}  // namespace zili::data::tj
