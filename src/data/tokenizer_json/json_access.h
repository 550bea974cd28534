// Reading tokenizer.json's members with the place named in every error: "FILE: PATH: what",
// PATH being the JSON path inside the file ("pre_tokenizer.pretokenizers[1].pattern").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace zili::data::tj {

using nlohmann::json;

struct Where {
  const std::string* file = nullptr;
  std::string path;

  Where operator/(const std::string& key) const;  // PATH.key
  Where operator[](size_t index) const;           // PATH[index]
  [[noreturn]] void fail(const std::string& what) const;
};

// obj[key] or nullptr when absent; `where` names obj, which must be an object.
const json* member(const json& obj, const char* key, const Where& where);
// obj[key], required.
const json& required(const json& obj, const char* key, const Where& where);
std::string string_member(const json& obj, const char* key, const Where& where);
// Absent or null: std::nullopt.
std::optional<std::string> optional_string(const json& obj, const char* key, const Where& where);
bool bool_member(const json& obj, const char* key, bool fallback, const Where& where);
int64_t int_member(const json& obj, const char* key, const Where& where);
// A component's "type" string.
std::string type_of(const json& obj, const Where& where);
// One character (a code point) given as a string, such as Metaspace's replacement.
char32_t char_member(const json& obj, const char* key, const Where& where);
// {"String": s} or {"Regex": r} (Split, Replace): the pattern and whether it is a regex.
std::string pattern_member(const json& obj, const Where& where, bool& is_regex);

}  // namespace zili::data::tj
