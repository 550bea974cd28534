// A Hugging Face `tokenizers` tokenizer read from its serialized form (tokenizer.json):
// added tokens, normalizer, pre-tokenizer, model (BPE), post-processor and decoder, each
// applied as the `tokenizers` library applies it, so encode() gives its ids id for id.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace zili::data {

class TokenizerJson {
 public:
  // One entry of "added_tokens", with the flags tokenizers matches it by.
  struct AddedToken {
    std::string content;
    int64_t id = -1;
    bool special = false;
    bool lstrip = false, rstrip = false, single_word = false, normalized = false;
  };

  // path: a tokenizer.json. zili::Error naming the file (and the JSON path inside it, such as
  // "pre_tokenizer.pretokenizers[1].type") for a malformed file or an unsupported component
  // ("model type WordPiece is not supported; zili reads BPE tokenizer.json files").
  static TokenizerJson load(const std::string& path);
  // The same from the file's text; `path` only names it in errors.
  static TokenizerJson parse(const std::string& json_text, const std::string& path);

  // tokenizers' Tokenizer.encode(text, add_special_tokens).ids. zili::Error when text is not
  // valid UTF-8 (where it first goes wrong).
  std::vector<int64_t> encode(const std::string& text, bool add_special_tokens) const;
  // tokenizers' Tokenizer.decode(ids, skip_special_tokens).
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const;

  // tokenizers' get_vocab_size(with_added_tokens=True): one past the largest id.
  int64_t vocab_size() const;
  std::optional<int64_t> token_to_id(const std::string& token) const;  // vocab or added
  std::string id_to_token(int64_t id) const;                           // "" for an id that has none
  const std::vector<AddedToken>& added_tokens() const;
  // One line for `zili inspect`: "BPE, 128256 tokens, byte-level (Split + ByteLevel), NFC".
  std::string describe() const;
  const std::string& path() const;

  ~TokenizerJson();
  TokenizerJson(TokenizerJson&&) noexcept;
  TokenizerJson& operator=(TokenizerJson&&) noexcept;
  TokenizerJson(const TokenizerJson&) = delete;

 private:
  struct Impl;
  explicit TokenizerJson(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zili::data
