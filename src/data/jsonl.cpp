// JSONL line reader.
#include "data/jsonl.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "util/error.h"

namespace zili::data {

void for_each_jsonl_object(const std::string& path,
                           const std::function<void(int64_t, const nlohmann::json&)>& visit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded()) fail("{}:{}: not valid JSON", path, number);
    if (!object.is_object())
      fail("{}:{}: expected a JSON object, got {}", path, number, object.type_name());
    visit(number, object);
  }
  if (in.bad()) fail("{}: read failed", path);
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
