// tokenizer.json's "added_tokens": tokens matched in the text before the model sees it, as
// tokenizers' AddedVocabulary matches them: the ones with normalized=false in the raw text,
// then the others in the normalized text, longest match first, honouring single_word, lstrip
// and rstrip. Ids are assigned as tokenizers assigns them when it loads the file.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "data/tokenizer_json/bpe.h"
#include "data/tokenizer_json/normalizers.h"
#include "data/tokenizer_json/pieces.h"
#include "data/tokenizer_json/tokenizer_json.h"

namespace zili::data::tj {

using AddedToken = TokenizerJson::AddedToken;

class AddedVocabulary {
 public:
  // entries: the file's list (their "id" is advisory, as in tokenizers).
  void build(const std::vector<AddedToken>& entries, const BpeModel& model,
             const Normalizer* normalizer);

  // tokenizers' extract_and_normalize: splits out the raw-text tokens, normalizes the rest
  // and splits out the normalized-text tokens.
  void extract_and_normalize(std::vector<Piece>& pieces, const Normalizer* normalizer) const;

  std::optional<int64_t> token_to_id(const std::string& content) const;
  // The token's content (normalized for normalized tokens, as tokenizers returns it).
  const std::string* id_to_token(int64_t id) const;
  bool is_special(const std::string& content) const { return special_.count(content) > 0; }
  const std::vector<AddedToken>& tokens() const { return tokens_; }  // with their final ids
  int64_t max_id() const;

 private:
  // A byte trie of token contents, for leftmost-longest matching (tokenizers' Aho-Corasick
  // with MatchKind::LeftmostLongest).
  struct Matcher {
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> children;
      int32_t token = -1;  // index into tokens_ of the first token ending here
    };
    std::vector<Node> nodes{Node{}};
    bool first_bytes[256] = {};
    bool empty() const { return nodes.size() == 1; }
    void add(const std::string& pattern, int32_t token);
    // The longest pattern starting at text[start]: its token index and end, or -1.
    int32_t longest_at(std::string_view text, size_t start, size_t& end) const;
  };

  // Splits one piece's text into text pieces and token pieces (find_matches + slicing).
  void split(const Piece& piece, const Matcher& matcher, std::vector<Piece>& out) const;

  std::vector<AddedToken> tokens_;    // distinct contents, ids final
  std::vector<std::string> display_;  // tokens_[i] as decode shows it
  std::unordered_map<std::string, int64_t> content_to_id_;
  std::unordered_map<int64_t, size_t> id_to_index_;
  std::unordered_set<std::string> special_;
  Matcher raw_, normalized_;
};

}  // namespace zili::data::tj
