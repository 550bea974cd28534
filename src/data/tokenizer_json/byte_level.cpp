// The byte-level alphabet built as GPT-2's bytes_to_unicode builds it: the printable bytes
// '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves; the other 68 bytes, in order, take
// the code points 256, 257, ...
#include "data/tokenizer_json/byte_level.h"

#include <vector>

#include "data/tokenizer_json/utf8.h"

namespace zili::data::tj {
namespace {

struct Alphabet {
  std::array<std::string, 256> chars;
  std::array<char32_t, 256> code_points{};
  std::vector<int> byte_of;  // indexed by code point, up to 256 + 68

  Alphabet() : byte_of(512, -1) {
    const auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) code_points[b] = printable(b) ? char32_t(b) : next++;
    for (int b = 0; b < 256; ++b) {
      append_utf8(chars[b], code_points[b]);
      byte_of[code_points[b]] = b;
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet instance;
  return instance;
}

}  // namespace

const std::array<std::string, 256>& byte_level_chars() {
  return alphabet().chars;
}

int byte_level_byte(char32_t c) {
  const Alphabet& a = alphabet();
  return c < a.byte_of.size() ? a.byte_of[c] : -1;
}

void append_byte_level(std::string& out, std::string_view text) {
  const auto& chars = alphabet().chars;
  for (const char c : text) out += chars[static_cast<unsigned char>(c)];
}

}  // namespace zili::data::tj
