// The checked accessors of json_access.h: each names the file and JSON path it failed at.
#include "data/tokenizer_json/json_access.h"

#include "data/tokenizer_json/utf8.h"
#include "util/error.h"

namespace zili::data::tj {
namespace {

std::string kind(const json& value) {
  return value.is_null()      ? "null"
         : value.is_boolean() ? "a boolean"
         : value.is_number()  ? "a number"
         : value.is_string()  ? "a string"
         : value.is_array()   ? "a list"
                              : "an object";
}

}  // namespace

Where Where::operator/(const std::string& key) const {
  return Where{file, path.empty() ? key : path + "." + key};
}

Where Where::operator[](size_t index) const {
  return Where{file, path + "[" + std::to_string(index) + "]"};
}

void Where::fail(const std::string& what) const {
  zili::fail("{}: {}: {}", file ? *file : std::string("tokenizer.json"),
             path.empty() ? std::string("top level") : path, what);
}

const json* member(const json& obj, const char* key, const Where& where) {
  if (!obj.is_object()) where.fail("expected an object, got " + kind(obj));
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const json& required(const json& obj, const char* key, const Where& where) {
  const json* value = member(obj, key, where);
  if (!value) (where / key).fail("missing (every tokenizer.json component has it)");
  return *value;
}

std::string string_member(const json& obj, const char* key, const Where& where) {
  const json& value = required(obj, key, where);
  if (!value.is_string()) (where / key).fail("expected a string, got " + kind(value));
  return value.get<std::string>();
}

std::optional<std::string> optional_string(const json& obj, const char* key, const Where& where) {
  const json* value = member(obj, key, where);
  if (!value || value->is_null()) return std::nullopt;
  if (!value->is_string()) (where / key).fail("expected a string or null, got " + kind(*value));
  return value->get<std::string>();
}

bool bool_member(const json& obj, const char* key, bool fallback, const Where& where) {
  const json* value = member(obj, key, where);
  if (!value || value->is_null()) return fallback;
  if (!value->is_boolean()) (where / key).fail("expected true or false, got " + kind(*value));
  return value->get<bool>();
}

int64_t int_member(const json& obj, const char* key, const Where& where) {
  const json& value = required(obj, key, where);
  if (!value.is_number_integer()) (where / key).fail("expected an integer, got " + kind(value));
  return value.get<int64_t>();
}

std::string type_of(const json& obj, const Where& where) {
  if (!obj.is_object()) where.fail("expected an object with a \"type\", got " + kind(obj));
  return string_member(obj, "type", where);
}

char32_t char_member(const json& obj, const char* key, const Where& where) {
  const std::string text = string_member(obj, key, where);
  size_t i = 0;
  if (text.empty() || find_invalid_utf8(text) != npos ||
      (next_code_point(text, i), i != text.size()))
    (where / key).fail("expected a single character, got \"" + text + "\"");
  i = 0;
  return next_code_point(text, i);
}

std::string pattern_member(const json& obj, const Where& where, bool& is_regex) {
  const json& pattern = required(obj, "pattern", where);
  const Where at = where / "pattern";
  if (pattern.is_object() && pattern.size() == 1) {
    if (pattern.contains("String") && pattern["String"].is_string()) {
      is_regex = false;
      return pattern["String"].get<std::string>();
    }
    if (pattern.contains("Regex") && pattern["Regex"].is_string()) {
      is_regex = true;
      return pattern["Regex"].get<std::string>();
    }
  }
  at.fail("expected {\"String\": ...} or {\"Regex\": ...}");
}

}  // namespace zili::data::tj
