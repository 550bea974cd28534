// JSONL line reader: one JSON object per non-blank line, with the line number and, for a bad
// line, a reason a user can act on.
#include "data/jsonl.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "util/error.h"

namespace zili::data {

int64_t invalid_utf8_byte(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char lead = s[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    // Unicode Table 3-7: the well-formed sequences, by lead byte. The second byte's range
    // is narrowed after E0/ED/F0/F4 to exclude overlong forms, surrogates and > U+10FFFF.
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      return static_cast<int64_t>(i) + 1;
    }
    for (size_t k = 1; k < length; ++k) {
      if (i + k >= n) return static_cast<int64_t>(i) + 1;
      const unsigned char next = s[i + k];
      const unsigned char lo = k == 1 ? low : 0x80, hi = k == 1 ? high : 0xBF;
      if (next < lo || next > hi) return static_cast<int64_t>(i) + 1;
    }
    i += length;
  }
  return 0;
}

void for_each_jsonl_line(const std::string& path, const std::function<void(JsonlLine&)>& visit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::string text;
  JsonlLine line;
  while (std::getline(in, text)) {
    ++line.number;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    // A UTF-8 byte order mark some editors write at the start of the file.
    if (line.number == 1 && text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    line.object = nullptr;
    line.error.clear();
    line.text = text;
    if (const int64_t at = invalid_utf8_byte(text)) {
      line.error = fmt::format("invalid UTF-8 at byte {}", at);
    } else {
      try {
        line.object = nlohmann::json::parse(text);
        if (!line.object.is_object())
          line.error = fmt::format("expected a JSON object, got {}", line.object.type_name());
      } catch (const nlohmann::json::parse_error& e) {
        // nlohmann counts bytes from 1; one past the end means the text stopped early.
        line.error = e.byte > text.size()
                         ? std::string("not valid JSON (the line ends inside a value)")
                         : fmt::format("not valid JSON (error at byte {})", e.byte);
      } catch (const nlohmann::json::exception&) {  // out_of_range: a number beyond a double
        line.error = "not valid JSON (a number out of range)";
      }
    }
    visit(line);
  }
  if (in.bad()) fail("{}: read failed", path);
}

void for_each_jsonl_object(const std::string& path,
                           const std::function<void(int64_t, const nlohmann::json&)>& visit) {
  for_each_jsonl_line(path, [&](JsonlLine& line) {
    if (!line.error.empty()) fail("{}:{}: {}", path, line.number, line.error);
    visit(line.number, line.object);
  });
}

std::string jsonl_string(const nlohmann::json& object, const char* key, const std::string& path,
                         int64_t line) {
  auto it = object.find(key);
  if (it == object.end()) fail("{}:{}: missing key \"{}\"", path, line, key);
  if (!it->is_string())
    fail("{}:{}: \"{}\" must be a string, got {}", path, line, key, it->type_name());
  return it->get<std::string>();
}

}  // namespace zili::data
