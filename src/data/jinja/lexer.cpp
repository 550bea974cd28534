// jinja2's lexer rules (jinja2/lexer.py) for the default delimiters, trim_blocks and
// lstrip_blocks on, keep_trailing_newline off.
#include "data/jinja/lexer.h"

#include <cctype>
#include <cstdint>

#include "util/error.h"

namespace zili::data::jinja {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// \r\n and \r become \n; one trailing newline goes.
std::string normalize_newlines(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void append_utf8(std::string& out, uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xc0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xe0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  }
}

class Lexer {
 public:
  Lexer(const std::string& source, const std::string& name)
      : s_(normalize_newlines(source)), name_(name) {}

  std::vector<Token> run() {
    bool line_starting = true;  // the last tag's match ended with a newline
    while (pos_ < s_.size()) {
      const size_t open = find_open(pos_);
      std::string text = s_.substr(pos_, open - pos_);
      if (open == s_.size()) {
        emit(Token::Kind::Text, text);
        advance_to(open);
        break;
      }
      const char kind = s_[open + 1];  // '{', '%' or '#'
      const char sign = open + 2 < s_.size() ? s_[open + 2] : '\0';
      if (sign == '-') {
        size_t end = text.size();
        while (end > 0 && is_space(text[end - 1])) --end;
        text.resize(end);
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: spaces and tabs alone on the line before the tag go.
        const size_t line_start = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
        if ((line_start > 0 || line_starting) && line_start < text.size()) {
          bool blank = true;
          for (size_t i = line_start; i < text.size(); ++i) blank = blank && is_space(text[i]);
          if (blank) text.resize(line_start);
        }
      }
      emit(Token::Kind::Text, text);
      advance_to(open);
      const size_t body = open + 2 + (sign == '-' || sign == '+' ? 1 : 0);
      size_t after;
      if (kind == '#') {
        after = comment(body);
      } else if (kind == '%' && is_raw(body)) {
        after = raw(body);
      } else {
        after = tag(body, kind == '%');
      }
      line_starting = after > 0 && s_[after - 1] == '\n';
      advance_to(after);
    }
    tokens_.push_back({Token::Kind::End, "", line_});
    return std::move(tokens_);
  }

 private:
  const std::string s_;
  const std::string& name_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;

  [[noreturn]] void error(const std::string& what) { fail("{}:{}: {}", name_, line_, what); }

  void emit(Token::Kind kind, std::string value) {
    if (kind == Token::Kind::Text && value.empty()) return;
    tokens_.push_back({kind, std::move(value), line_});
  }
  void advance_to(size_t to) {
    for (; pos_ < to; ++pos_)
      if (s_[pos_] == '\n') ++line_;
  }

  size_t find_open(size_t from) const {
    for (size_t i = from; i + 1 < s_.size(); ++i)
      if (s_[i] == '{' && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    return s_.size();
  }

  // The end of a block or comment tag at i ("+%}", "-%}" and the whitespace after it,
  // "%}" and one newline): the position after it, or npos.
  size_t block_end(size_t i, char closer) const {
    const auto at = [&](size_t k, char c) { return k < s_.size() && s_[k] == c; };
    if ((at(i, '+') || at(i, '-')) && at(i + 1, closer) && at(i + 2, '}')) {
      size_t after = i + 3;
      if (s_[i] == '-')
        while (after < s_.size() && is_space(s_[after])) ++after;
      return after;
    }
    if (at(i, closer) && at(i + 1, '}')) return at(i + 2, '\n') ? i + 3 : i + 2;
    return std::string::npos;
  }

  size_t comment(size_t body) {
    for (size_t i = body; i < s_.size(); ++i) {
      const size_t after = block_end(i, '#');
      if (after != std::string::npos) return after;
    }
    error("missing end of comment tag '#}'");
  }

  size_t skip_space(size_t i) const {
    while (i < s_.size() && is_space(s_[i])) ++i;
    return i;
  }
  bool word_at(size_t i, const char* word) const {
    const std::string w(word);
    if (s_.compare(i, w.size(), w) != 0) return false;
    const size_t e = i + w.size();
    return e >= s_.size() || !(std::isalnum(static_cast<unsigned char>(s_[e])) || s_[e] == '_');
  }
  bool is_raw(size_t body) const {
    const size_t i = skip_space(body);
    if (!word_at(i, "raw")) return false;
    const size_t e = skip_space(i + 3);
    return s_.compare(e, 2, "%}") == 0 || s_.compare(e, 3, "-%}") == 0;
  }

  // {% raw %} ... {% endraw %}: the text between as is (the endraw tag's "-" and
  // lstrip_blocks apply to its end; no trim_blocks newline after "{% raw %}").
  size_t raw(size_t body) {
    size_t i = skip_space(skip_space(body) + 3);
    i = s_[i] == '-' ? skip_space(i + 3) : i + 2;
    for (size_t k = i; k + 1 < s_.size(); ++k) {
      if (s_[k] != '{' || s_[k + 1] != '%') continue;
      const char sign = k + 2 < s_.size() ? s_[k + 2] : '\0';
      size_t w = skip_space(k + 2 + (sign == '-' || sign == '+' ? 1 : 0));
      if (!word_at(w, "endraw")) continue;
      const size_t after = block_end(skip_space(w + 6), '%');
      if (after == std::string::npos) continue;
      std::string text = s_.substr(i, k - i);
      if (sign == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      } else if (sign != '+') {
        const size_t line_start = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
        if (line_start > 0 && line_start < text.size()) {
          bool blank = true;
          for (size_t p = line_start; p < text.size(); ++p) blank = blank && is_space(text[p]);
          if (blank) text.resize(line_start);
        }
      }
      advance_to(i);
      emit(Token::Kind::Text, text);
      return after;
    }
    error("missing end of raw directive '{% endraw %}'");
  }

  // The tokens of a {{ }} or {% %} tag from body on; the position after its end.
  size_t tag(size_t body, bool block) {
    emit(block ? Token::Kind::BlockBegin : Token::Kind::VarBegin, block ? "{%" : "{{");
    int depth = 0;  // open brackets: "}}" inside a dict literal does not end the tag
    size_t i = body;
    while (true) {
      while (i < s_.size() && is_space(s_[i])) ++i;
      advance_to(i);
      if (i >= s_.size()) error(block ? "missing end of block tag '%}'" : "missing end of '}}'");
      if (depth == 0) {
        size_t after = std::string::npos;
        if (block) {
          after = block_end(i, '%');
        } else if (s_.compare(i, 3, "-}}") == 0) {
          after = skip_space(i + 3);
        } else if (s_.compare(i, 2, "}}") == 0) {
          after = i + 2;
        }
        if (after != std::string::npos) {
          emit(block ? Token::Kind::BlockEnd : Token::Kind::VarEnd, block ? "%}" : "}}");
          return after;
        }
      }
      i = token(i, depth);
    }
  }

  size_t token(size_t i, int& depth) {
    const char c = s_[i];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t e = i;
      while (e < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[e])) || s_[e] == '_'))
        ++e;
      emit(Token::Kind::Name, s_.substr(i, e - i));
      return e;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) return number(i);
    if (c == '\'' || c == '"') return string(i);
    static const char* two[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : two)
      if (s_.compare(i, 2, op) == 0) {
        emit(Token::Kind::Operator, op);
        return i + 2;
      }
    if (std::string("+-/*%~<>=.,:|()[]{};").find(c) == std::string::npos)
      error(std::string("unexpected character '") + c + "'");
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) error(std::string("unexpected '") + c + "'");
      --depth;
    }
    emit(Token::Kind::Operator, std::string(1, c));
    return i + 1;
  }

  size_t digits(size_t i) const {
    while (i < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i])) ||
                             (s_[i] == '_' && i + 1 < s_.size() &&
                              std::isdigit(static_cast<unsigned char>(s_[i + 1])))))
      ++i;
    return i;
  }

  // 12, 1_000, 1.5, 1e5, 2.5e-3; after a "." (x.0.1) only integers, as jinja2 reads them.
  size_t number(size_t i) {
    size_t e = digits(i);
    bool is_float = false;
    const bool after_dot = i > 0 && s_[i - 1] == '.';
    if (!after_dot && e + 1 < s_.size() && s_[e] == '.' &&
        std::isdigit(static_cast<unsigned char>(s_[e + 1]))) {
      e = digits(e + 1);
      is_float = true;
    }
    if (!after_dot && e < s_.size() && (s_[e] == 'e' || s_[e] == 'E')) {
      size_t k = e + 1;
      if (k < s_.size() && (s_[k] == '+' || s_[k] == '-')) ++k;
      if (k < s_.size() && std::isdigit(static_cast<unsigned char>(s_[k]))) {
        e = digits(k);
        is_float = true;
      }
    }
    std::string text;
    for (size_t k = i; k < e; ++k)
      if (s_[k] != '_') text += s_[k];
    emit(is_float ? Token::Kind::Float : Token::Kind::Int, text);
    return e;
  }

  // A quoted string with Python's escapes (\n \t \\ \' \" \xhh \uhhhh \Uhhhhhhhh ...).
  size_t string(size_t i) {
    const char quote = s_[i];
    std::string out;
    size_t k = i + 1;
    for (; k < s_.size() && s_[k] != quote; ++k) {
      if (s_[k] != '\\' || k + 1 >= s_.size()) {
        out += s_[k];
        continue;
      }
      const char e = s_[++k];
      const auto hex = [&](int n) {
        uint32_t code = 0;
        for (int d = 0; d < n; ++d) {
          if (k + 1 >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[k + 1])))
            error("truncated \\x, \\u or \\U escape in a string");
          const char h = s_[++k];
          code = code * 16 +
                 (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (h | 0x20) - 'a' + 10);
        }
        if (code > 0x10ffff) error("illegal Unicode character escape in a string");
        append_utf8(out, code);
      };
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case '\n':
          break;
        case 'x':
          hex(2);
          break;
        case 'u':
          hex(4);
          break;
        case 'U':
          hex(8);
          break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t code = e - '0';
            for (int d = 0; d < 2 && k + 1 < s_.size() && s_[k + 1] >= '0' && s_[k + 1] <= '7'; ++d)
              code = code * 8 + (s_[++k] - '0');
            append_utf8(out, code);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    if (k >= s_.size()) error("unterminated string");
    emit(Token::Kind::String, out);
    return k + 1;
  }
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const std::string& name) {
  return Lexer(source, name).run();
}

}  // namespace zili::data::jinja
