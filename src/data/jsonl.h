// Streaming JSONL reading with line numbers: each non-blank line must be one JSON object.
// A bad line is a zili::Error "FILE:LINE: reason", so a user can open the file at the spot;
// for_each_jsonl_line hands the reason over instead, for readers that may skip bad lines.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace zili::data {

// One non-blank line: its object, or why it is not one ("invalid UTF-8 at byte 12",
// "not valid JSON (error at byte 7)", "expected a JSON object, got array").
struct JsonlLine {
  int64_t number = 0;     // 1-based line number in the file
  nlohmann::json object;  // a JSON object when error is empty
  std::string error;
  std::string text;  // the line as read (a chat template re-reads it in key order)
};

// Calls visit(line) for every non-blank line, in order. Only an unreadable file throws.
void for_each_jsonl_line(const std::string& path, const std::function<void(JsonlLine&)>& visit);

// Calls visit(line_number, object) for every non-blank line, in order (numbers from 1); the
// first bad line is a zili::Error "FILE:LINE: reason".
void for_each_jsonl_object(const std::string& path,
                           const std::function<void(int64_t, const nlohmann::json&)>& visit);

// The string value of `key` in a line's object; "FILE:LINE: ..." error when absent or not a
// string.
std::string jsonl_string(const nlohmann::json& object, const char* key, const std::string& path,
                         int64_t line);

// The 1-based byte of the first invalid UTF-8 sequence in text (overlong forms, surrogates
// and code points past U+10FFFF included), or 0 when text is valid UTF-8.
int64_t invalid_utf8_byte(const std::string& text);

}  // namespace zili::data
