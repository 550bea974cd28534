// tokenizer.json's "model" of type BPE: the vocabulary, the ranked merges, and the merge loop
// that turns one pre-tokenized word into ids exactly as tokenizers' BPE model does (byte
// fallback, unk fusing, subword prefix/suffix, ignore_merges), with a cache of words seen.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/tokenizer_json/json_access.h"
#include "data/tokenizer_json/token_index.h"

namespace zili::data::tj {

// Hash of strings that also takes string_views (heterogeneous lookup).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// model.vocab and model.merges taken out of the JSON while it is parsed (tokenizer_json.cpp),
// so that a 150k-token file is not first built as a JSON tree of maps.
struct BpeSource {
  bool vocab_seen = false, merges_seen = false;
  std::vector<std::string> vocab_tokens;
  std::vector<json> vocab_ids;  // vocab_ids[i] belongs to vocab_tokens[i]
  std::vector<json> merges;
};

class BpeModel {
 public:
  // zili::Error naming the path: another model type ("WordPiece is not supported ..."), a
  // malformed vocab, a merge naming a token the vocab lacks, a dropout.
  static std::unique_ptr<BpeModel> parse(const json& model, const Where& where,
                                         const BpeSource& source);

  // Appends the ids of one word (a pre-tokenized piece, non-empty).
  void tokenize(std::string_view word, std::vector<int64_t>& ids) const;

  std::optional<int64_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(int64_t id) const;       // nullptr when no token has it
  size_t vocab_entries() const { return vocab_.size(); }  // tokenizers' get_vocab_size
  int64_t max_id() const { return static_cast<int64_t>(id_to_token_.size()) - 1; }
  std::string describe() const;

 private:
  struct Merge {
    uint32_t rank = 0;
    int32_t new_id = -1;
  };
  // Open-addressing table of (left id, right id) -> merge, probed linearly.
  class MergeTable {
   public:
    void reserve(size_t count);
    void insert_or_assign(int32_t left, int32_t right, Merge merge);
    const Merge* find(int32_t left, int32_t right) const;

   private:
    size_t slot(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ULL) >> shift_; }
    std::vector<uint64_t> keys_;
    std::vector<Merge> values_;
    int shift_ = 64;
    size_t used_ = 0;
  };

  void merge_word(std::string_view word, std::vector<int32_t>& ids) const;
  void apply_merges(std::vector<int32_t>& symbol_ids, std::vector<uint32_t>& symbol_lengths) const;

  TokenIndex vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_token_;
  MergeTable merges_;
  std::vector<int32_t> byte_ids_;  // byte b's <0xBB> token, or -1 (byte_fallback)
  size_t merge_count_ = 0;
  std::optional<std::string> unk_token_, continuing_subword_prefix_, end_of_word_suffix_;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;

  // Words already merged (encode is const; the cache is skipped while another thread holds it).
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace zili::data::tj
