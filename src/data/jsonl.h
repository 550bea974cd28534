// Streaming JSONL reading with line numbers: each non-blank line must be one JSON object.
// A bad line is a zili::Error "FILE:LINE: reason", so a user can open the file at the spot.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace zili::data {

// Calls visit(line_number, object) for every non-blank line, in order (numbers from 1).
void for_each_jsonl_object(const std::string& path,
                           const std::function<void(int64_t, const nlohmann::json&)>& visit);

// The string value of `key` in a line's object; "FILE:LINE: ..." error when absent or not a
// string.
std::string jsonl_string(const nlohmann::json& object, const char* key, const std::string& path,
                         int64_t line);

}  // namespace zili::data
