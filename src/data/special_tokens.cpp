// The special tokens of a checkpoint folder's tokenizer, from the JSON files transformers
// reads: which token is BOS, EOS, pad and unk, whether encode adds BOS/EOS, and which ids end
// generation.
#include "data/special_tokens.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::data {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The JSON object in path, or nullopt when the file does not exist.
std::optional<json> read_json_if_present(const std::string& path) {
  if (!fs::exists(path)) return std::nullopt;
  json value;
  try {
    value = json::parse(read_file(path));
  } catch (const json::parse_error& e) {
    fail("{}: not valid JSON (byte {}); fix or delete the file", path, e.byte);
  } catch (const json::exception&) {  // out_of_range: a number beyond a double
    fail("{}: not valid JSON (a number out of range); fix or delete the file", path);
  }
  if (!value.is_object()) fail("{}: expected a JSON object at the top level", path);
  return value;
}

// A special token entry of tokenizer_config.json / special_tokens_map.json: absent (nullopt),
// null (""), a string, or an AddedToken object {"content": "<s>", ...}.
std::optional<std::string> token_string(const json& file, const std::string& key,
                                        const std::string& path) {
  if (!file.contains(key)) return std::nullopt;
  const json& entry = file.at(key);
  if (entry.is_null()) return std::string();
  if (entry.is_string()) return entry.get<std::string>();
  if (entry.is_object() && entry.contains("content") && entry.at("content").is_string())
    return entry.at("content").get<std::string>();
  fail("{}: \"{}\" must be a string, null or an object with a \"content\" string", path, key);
}

std::optional<bool> flag(const json& file, const std::string& key, const std::string& path) {
  if (!file.contains(key) || file.at(key).is_null()) return std::nullopt;
  if (!file.at(key).is_boolean()) fail("{}: \"{}\" must be true or false", path, key);
  return file.at(key).get<bool>();
}

// The ids of an "eos_token_id"-style entry: an id, a list of ids, or null; those outside the
// vocabulary are left out.
std::vector<int64_t> ids_of(const json& file, const char* key, int64_t vocab_size) {
  std::vector<int64_t> ids;
  const auto it = file.find(key);
  if (it == file.end()) return ids;
  const json list = it->is_array() ? *it : json::array({*it});
  for (const json& value : list)
    if (value.is_number_integer() && value.get<int64_t>() >= 0 && value.get<int64_t>() < vocab_size)
      ids.push_back(value.get<int64_t>());
  return ids;
}

}  // namespace

SpecialTokens read_special_tokens(const std::string& dir,
                                  const std::function<int64_t(const std::string&)>& token_id,
                                  const std::string& tokenizer_path, int64_t vocab_size) {
  SpecialTokens out;
  const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
  const std::string map_path = (fs::path(dir) / "special_tokens_map.json").string();
  const auto config = read_json_if_present(config_path);
  const auto special_map = read_json_if_present(map_path);

  // transformers reads tokenizer_config.json, then lets special_tokens_map.json override it.
  auto special = [&](const std::string& key, std::optional<int64_t>& id) {
    std::optional<std::string> token;
    std::string source;
    if (config && (token = token_string(*config, key, config_path))) source = config_path;
    if (special_map) {
      if (auto found = token_string(*special_map, key, map_path)) token = found, source = map_path;
    }
    if (!token) return;
    id = token->empty() ? -1 : token_id(*token);
    if (*id < 0 && !token->empty())
      fail("{}: {} \"{}\" is not a token of {}; name a token the tokenizer has", source, key,
           *token, tokenizer_path);
  };
  special("bos_token", out.bos);
  special("eos_token", out.eos);
  special("pad_token", out.pad);
  special("unk_token", out.unk);
  if (config) {
    out.add_bos = flag(*config, "add_bos_token", config_path);
    out.add_eos = flag(*config, "add_eos_token", config_path);
  }

  const auto model_config = read_json_if_present((fs::path(dir) / "config.json").string());
  if (model_config) {
    const std::vector<int64_t> bos = ids_of(*model_config, "bos_token_id", vocab_size);
    const std::vector<int64_t> eos = ids_of(*model_config, "eos_token_id", vocab_size);
    if (!bos.empty()) out.config_bos = bos.front();
    if (!eos.empty()) out.config_eos = eos.front();
    out.generation_eos = eos;
  }
  // generate() takes its stop ids from generation_config.json when the file has them.
  const auto generation = read_json_if_present((fs::path(dir) / "generation_config.json").string());
  if (generation && generation->contains("eos_token_id"))
    out.generation_eos = ids_of(*generation, "eos_token_id", vocab_size);
  return out;
}

}  // namespace zili::data
