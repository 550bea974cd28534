// The members of one JSONL line's object, checked: a required key, a string, a list of chat
// messages. Each failure is a zili::Error with the reason alone; the reader that knows the
// file and line prefixes "FILE:LINE: " (shared by the SFT and preference readers).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/chat_template.h"

namespace zili::data {

// object[key]; "missing key \"KEY\"" when absent.
const nlohmann::json& json_field(const nlohmann::json& object, const char* key);

// object[key] as a string; "\"KEY\" must be a string, got TYPE", or "\"KEY\" is empty" when
// empty and not allow_empty.
std::string json_string_field(const nlohmann::json& object, const char* key, bool allow_empty);

// object[key] as a non-empty list of {"role", "content"} string pairs with a known role
// (system, user, assistant). where: how a message is named in a reason, "message" or
// "\"completion\" message" ("... in \"completion\" message 2").
std::vector<Message> json_messages_field(const nlohmann::json& object, const char* key,
                                         const std::string& where);

}  // namespace zili::data
