// GPT-2's byte-level alphabet: every byte as a printable character (tokenizers' bytes_char),
// so that any UTF-8 text becomes a string a BPE vocabulary can cover, and back.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace zili::data::tj {

// The character (as UTF-8) that stands for byte b.
const std::array<std::string, 256>& byte_level_chars();
// The byte that code point c stands for, or -1 when c is not in the alphabet.
int byte_level_byte(char32_t c);
// text with every byte replaced by its character, appended to out.
void append_byte_level(std::string& out, std::string_view text);

}  // namespace zili::data::tj
