// AddedVocabulary: id assignment and matching as tokenizers' added_vocabulary.rs does them.
// A token whose content is in the model's vocab takes that id; a new one takes the next id
// after the model's (or after the largest added id). Matching is leftmost-longest, without
// overlap; single_word drops a match touching a word character (\w) on either side; lstrip
// and rstrip widen a match over the whitespace beside it.
#include "data/tokenizer_json/added_tokens.h"

#include <algorithm>
#include <map>

#include "data/tokenizer_json/utf8.h"

namespace zili::data::tj {
namespace {

bool is_word_char(char32_t c) {
  return is_word(c);
}

// The last character of text[0, end) (end > 0); `lead` is where it starts.
char32_t last_char(std::string_view text, size_t end, size_t& lead) {
  lead = end - 1;
  while (lead > 0 && (static_cast<unsigned char>(text[lead]) & 0xC0) == 0x80) --lead;
  size_t i = lead;
  return next_code_point(text, i);
}

bool ends_with_word(std::string_view text, size_t end) {
  size_t lead = 0;
  return end > 0 && is_word_char(last_char(text, end, lead));
}

bool starts_with_word(std::string_view text, size_t start) {
  if (start >= text.size()) return false;
  size_t i = start;
  return is_word_char(next_code_point(text, i));
}

// Start of the whitespace run that ends at `end`.
size_t whitespace_run_before(std::string_view text, size_t end) {
  while (end > 0) {
    size_t lead = 0;
    if (!is_whitespace(last_char(text, end, lead))) break;
    end = lead;
  }
  return end;
}

// End of the whitespace run that starts at `start`.
size_t whitespace_run_after(std::string_view text, size_t start) {
  while (start < text.size()) {
    size_t next = start;
    if (!is_whitespace(next_code_point(text, next))) break;
    start = next;
  }
  return start;
}

}  // namespace

void AddedVocabulary::Matcher::add(const std::string& pattern, int32_t token) {
  int32_t node = 0;
  for (const char c : pattern) {
    const auto byte = static_cast<unsigned char>(c);
    auto& children = nodes[node].children;
    const auto it = std::find_if(children.begin(), children.end(),
                                 [&](const auto& child) { return child.first == byte; });
    if (it != children.end()) {
      node = it->second;
      continue;
    }
    const auto created = static_cast<int32_t>(nodes.size());
    children.emplace_back(byte, created);
    nodes.emplace_back();
    node = created;
  }
  if (nodes[node].token < 0) nodes[node].token = token;  // the first pattern wins a tie
  first_bytes[static_cast<unsigned char>(pattern[0])] = true;
}

int32_t AddedVocabulary::Matcher::longest_at(std::string_view text, size_t start,
                                             size_t& end) const {
  int32_t node = 0, best = -1;
  for (size_t i = start; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const auto& children = nodes[node].children;
    const auto it = std::find_if(children.begin(), children.end(),
                                 [&](const auto& child) { return child.first == byte; });
    if (it == children.end()) break;
    node = it->second;
    if (nodes[node].token >= 0) {
      best = nodes[node].token;
      end = i + 1;
    }
  }
  return best;
}

void AddedVocabulary::build(const std::vector<AddedToken>& entries, const BpeModel& model,
                            const Normalizer* normalizer) {
  // tokenizers' add_tokens, called once with the file's list.
  std::vector<AddedToken> specials, classics;
  std::map<int64_t, AddedToken> by_id;
  for (const AddedToken& token : entries)
    if (token.special && !token.content.empty() && special_.insert(token.content).second)
      specials.push_back(token);
  const auto same = [](const AddedToken& a, const AddedToken& b) {
    return a.content == b.content && a.special == b.special && a.lstrip == b.lstrip &&
           a.rstrip == b.rstrip && a.single_word == b.single_word && a.normalized == b.normalized;
  };
  const auto model_size = static_cast<int64_t>(model.vocab_entries());
  for (const AddedToken& token : entries) {
    if (token.content.empty() || std::any_of(by_id.begin(), by_id.end(),
                                             [&](const auto& e) { return same(e.second, token); }))
      continue;
    int64_t id = -1;
    if (const auto known = token_to_id(token.content))
      id = *known;
    else if (const auto in_model = model.token_to_id(token.content))
      id = *in_model;
    else if (content_to_id_.empty())
      id = model_size;
    else {
      int64_t largest = -1;
      for (const auto& [content, existing] : content_to_id_) largest = std::max(largest, existing);
      id = largest >= model_size || model_size == 0 ? largest + 1 : model_size;
    }
    content_to_id_[token.content] = id;
    AddedToken stored = token;
    stored.id = id;
    by_id[id] = stored;
    if (!special_.count(token.content)) classics.push_back(token);
  }
  for (const auto& [id, token] : by_id) {
    id_to_index_[id] = tokens_.size();
    tokens_.push_back(token);
    // tokenizers gives a normalized token's id back as its normalized content.
    std::string display = token.content;
    if (token.normalized && normalizer) normalizer->normalize(display);
    display_.push_back(std::move(display));
  }
  // The matchers: specials first, then the others, each in the file's order.
  for (const auto* list : {&specials, &classics})
    for (const AddedToken& token : *list) {
      const int64_t id = *token_to_id(token.content);
      if (!token.normalized) {
        raw_.add(token.content, static_cast<int32_t>(id));
        continue;
      }
      std::string pattern = token.content;
      if (normalizer) normalizer->normalize(pattern);
      if (!pattern.empty()) normalized_.add(pattern, static_cast<int32_t>(id));
    }
}

std::optional<int64_t> AddedVocabulary::token_to_id(const std::string& content) const {
  const auto it = content_to_id_.find(content);
  if (it == content_to_id_.end()) return std::nullopt;
  return it->second;
}

const std::string* AddedVocabulary::id_to_token(int64_t id) const {
  const auto it = id_to_index_.find(id);
  return it == id_to_index_.end() ? nullptr : &display_[it->second];
}

int64_t AddedVocabulary::max_id() const {
  return tokens_.empty() ? -1 : tokens_.back().id;
}

void AddedVocabulary::split(const Piece& piece, const Matcher& matcher,
                            std::vector<Piece>& out) const {
  const std::string_view text = piece.text;
  const auto slice = [&](size_t start, size_t end, int64_t id) {
    Piece sub{std::string(text.substr(start, end - start)), piece.at_origin && start == 0, id};
    out.push_back(std::move(sub));
  };
  size_t start_offset = 0, i = 0;
  while (i < text.size()) {
    if (!matcher.first_bytes[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    size_t stop = 0;
    const int32_t id = matcher.longest_at(text, i, stop);
    if (id < 0) {
      ++i;
      continue;
    }
    size_t start = i;
    i = stop;  // the search goes on after the match itself
    const AddedToken& token = tokens_[id_to_index_.at(id)];
    if (token.single_word && (ends_with_word(text, start) || starts_with_word(text, stop)))
      continue;
    if (token.lstrip) start = std::max(whitespace_run_before(text, start), start_offset);
    if (token.rstrip) stop = whitespace_run_after(text, stop);
    if (start_offset < start) slice(start_offset, start, -1);
    slice(start, stop, id);
    start_offset = stop;
  }
  if (start_offset < text.size()) slice(start_offset, text.size(), -1);
}

void AddedVocabulary::extract_and_normalize(std::vector<Piece>& pieces,
                                            const Normalizer* normalizer) const {
  if (!raw_.empty())
    split_pieces(pieces,
                 [&](const Piece& piece, std::vector<Piece>& out) { split(piece, raw_, out); });
  split_pieces(pieces, [&](const Piece& piece, std::vector<Piece>& out) {
    Piece normalized = piece;
    if (normalizer) normalizer->normalize(normalized.text);
    if (normalized_.empty())
      out.push_back(std::move(normalized));
    else
      split(normalized, normalized_, out);
  });
}

}  // namespace zili::data::tj
