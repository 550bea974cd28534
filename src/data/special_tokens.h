// What the JSON files beside a tokenizer say of its special tokens, read as transformers reads
// them: tokenizer_config.json, overridden by special_tokens_map.json, for the bos/eos/pad/unk
// names and the add_bos_token/add_eos_token flags; generation_config.json's eos_token_id (an
// id or a list) for where generation stops; config.json's ids where nothing else names one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace zili::data {

struct SpecialTokens {
  // Set when a file names the token; -1 when it names it null (the tokenizer has none).
  std::optional<int64_t> bos, eos, pad, unk;
  std::optional<bool> add_bos, add_eos;
  std::vector<int64_t> generation_eos;  // generation_config.json, else config.json eos ids
  std::optional<int64_t> config_bos, config_eos;  // config.json (the first of a list)
};

// token_id: the id of a token's text, or -1 when the tokenizer has no such token (a named
// token it lacks is a zili::Error naming the file, the key and `tokenizer_path`). Ids in
// generation_config.json / config.json outside [0, vocab_size) are ignored.
SpecialTokens read_special_tokens(const std::string& dir,
                                  const std::function<int64_t(const std::string&)>& token_id,
                                  const std::string& tokenizer_path, int64_t vocab_size);

}  // namespace zili::data
