// UTF-8 and the character classes tokenizer.json components test, defined as Rust's `char`
// methods define them (tokenizers is written in Rust): White_Space, Alphabetic, Numeric,
// punctuation, lower-casing. The Unicode data comes from Oniguruma and utf8proc, not tables here.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace zili::data::tj {

inline constexpr size_t npos = std::string_view::npos;

// Byte offset where text first stops being valid UTF-8, or npos when it is valid.
size_t find_invalid_utf8(std::string_view text);

// The code point starting at text[i] (text valid UTF-8); i moves past it.
char32_t next_code_point(std::string_view text, size_t& i);
// Length in bytes of the UTF-8 sequence that starts with lead byte b (valid text).
inline size_t sequence_length(unsigned char b) {
  return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}
void append_utf8(std::string& out, char32_t c);

// Rust's String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD.
std::string from_utf8_lossy(std::string_view bytes);
// Whether bytes are valid UTF-8 (Rust's String::from_utf8 succeeds).
inline bool is_valid_utf8(std::string_view bytes) {
  return find_invalid_utf8(bytes) == npos;
}

bool is_whitespace(char32_t c);    // char::is_whitespace: White_Space
bool is_numeric(char32_t c);       // char::is_numeric: Nd, Nl, No
bool is_alphanumeric(char32_t c);  // char::is_alphanumeric: Alphabetic or numeric
bool is_punctuation(char32_t c);
// The regex crate's Unicode \w: Alphabetic, marks, decimal digits, connector punctuation and
// Join_Control (tokenizers' Whitespace and added tokens' single_word use that crate).
bool is_word(char32_t c);  // ASCII punctuation or a P* category (tokenizers' is_punc)
// char::to_lowercase as UTF-8: the full lower-case mapping (U+0130 becomes "i\u0307").
void append_lowercase(std::string& out, char32_t c);

}  // namespace zili::data::tj
