// Checked members of a JSONL line's object: the reasons are written for the person who has
// to fix the line, naming the key and, for messages, the message number from 1.
#include "data/json_fields.h"

#include "util/error.h"

namespace zili::data {

using nlohmann::json;

const json& json_field(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) fail("missing key \"{}\"", key);
  return *it;
}

std::string json_string_field(const json& object, const char* key, bool allow_empty) {
  const json& value = json_field(object, key);
  if (!value.is_string()) fail("\"{}\" must be a string, got {}", key, value.type_name());
  std::string text = value.get<std::string>();
  if (!allow_empty && text.empty()) fail("\"{}\" is empty", key);
  return text;
}

std::vector<Message> json_messages_field(const json& object, const char* key,
                                         const std::string& where) {
  const json& list = json_field(object, key);
  if (!list.is_array()) fail("\"{}\" must be a list of messages, got {}", key, list.type_name());
  if (list.empty()) fail("\"{}\" is empty", key);
  std::vector<Message> messages;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& m = list[i];
    if (!m.is_object())
      fail("{} {} must be an object with \"role\" and \"content\", got {}", where, i + 1,
           m.type_name());
    for (const char* member : {"role", "content"}) {
      if (!m.contains(member)) fail("{} {} has no \"{}\"", where, i + 1, member);
      if (!m.at(member).is_string())
        fail("\"{}\" of {} {} must be a string, got {}", member, where, i + 1,
             m.at(member).type_name());
    }
    Message message{m.at("role").get<std::string>(), m.at("content").get<std::string>()};
    if (message.role != "system" && message.role != "user" && message.role != "assistant")
      fail("unknown role \"{}\" in {} {} (expected system, user or assistant)", message.role, where,
           i + 1);
    messages.push_back(std::move(message));
  }
  return messages;
}

}  // namespace zili::data
