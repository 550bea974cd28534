// The BPE model as tokenizers runs it. A word starts as one symbol per character (its vocab
// id; else its bytes' <0xNN> tokens with byte_fallback; else unk, fused or not); then the
// lowest-ranked adjacent pair is merged, again and again, found with a min-heap of
// (rank, position) whose stale entries are skipped (tokenizers' Word::merge_all).
#include "data/tokenizer_json/bpe.h"

#include <algorithm>

#include <fmt/format.h>

#include "data/tokenizer_json/utf8.h"
#include "util/error.h"

namespace zili::data::tj {
namespace {

constexpr uint64_t kEmpty = ~0ULL;
constexpr size_t kCacheCapacity = 1 << 17;  // words
constexpr size_t kCacheWordBytes = 256;     // longer words are merged every time

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

void BpeModel::MergeTable::reserve(size_t count) {
  size_t capacity = 16;
  shift_ = 60;
  while (capacity < 2 * count + 16) {
    capacity <<= 1;
    --shift_;
  }
  keys_.assign(capacity, kEmpty);
  values_.assign(capacity, Merge{});
  used_ = 0;
}

void BpeModel::MergeTable::insert_or_assign(int32_t left, int32_t right, Merge merge) {
  const uint64_t key = pair_key(left, right);
  const size_t mask = keys_.size() - 1;
  for (size_t i = slot(key);; i = (i + 1) & mask) {
    if (keys_[i] == key) {
      values_[i] = merge;  // a repeated pair: the later rank wins, as in tokenizers' HashMap
      return;
    }
    if (keys_[i] == kEmpty) {
      keys_[i] = key;
      values_[i] = merge;
      ++used_;
      return;
    }
  }
}

const BpeModel::Merge* BpeModel::MergeTable::find(int32_t left, int32_t right) const {
  if (keys_.empty()) return nullptr;
  const uint64_t key = pair_key(left, right);
  const size_t mask = keys_.size() - 1;
  for (size_t i = slot(key);; i = (i + 1) & mask) {
    if (keys_[i] == key) return &values_[i];
    if (keys_[i] == kEmpty) return nullptr;
  }
}

std::optional<int64_t> BpeModel::token_to_id(std::string_view token) const {
  const int32_t id = vocab_.find(token);
  if (id < 0) return std::nullopt;
  return id;
}

const std::string* BpeModel::id_to_token(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(id_to_token_.size()) || !has_token_[id]) return nullptr;
  return &id_to_token_[id];
}

std::string BpeModel::describe() const {
  return fmt::format("BPE, {} tokens, {} merges{}", vocab_.size(), merge_count_,
                     byte_fallback_ ? ", byte fallback" : "");
}

void BpeModel::tokenize(std::string_view word, std::vector<int64_t>& ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const int32_t id = vocab_.find(word);
    if (id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  const bool cacheable = word.size() <= kCacheWordBytes;
  std::unique_lock<std::mutex> lock(cache_mutex_, std::defer_lock);
  if (cacheable && lock.try_lock()) {
    const auto it = cache_.find(word);
    if (it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
    lock.unlock();
  }
  std::vector<int32_t> merged;
  merge_word(word, merged);
  ids.insert(ids.end(), merged.begin(), merged.end());
  if (cacheable && lock.try_lock()) {
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(word), std::move(merged));
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& ids) const {
  std::vector<int32_t> symbol_ids;
  std::vector<uint32_t> symbol_lengths;
  const auto add = [&](int32_t id, uint32_t length) {
    symbol_ids.push_back(id);
    symbol_lengths.push_back(length);
  };
  bool pending_unk = false;
  int32_t unk_id = -1;
  uint32_t unk_length = 0;
  std::string buffer;
  size_t i = 0;
  while (i < word.size()) {
    const size_t start = i;
    i = std::min(word.size(), i + sequence_length(static_cast<unsigned char>(word[i])));
    const auto byte_length = static_cast<uint32_t>(i - start);
    std::string_view symbol = word.substr(start, byte_length);
    if ((start > 0 && continuing_subword_prefix_) || (i == word.size() && end_of_word_suffix_)) {
      buffer.clear();
      if (start > 0 && continuing_subword_prefix_) buffer += *continuing_subword_prefix_;
      buffer += symbol;
      if (i == word.size() && end_of_word_suffix_) buffer += *end_of_word_suffix_;
      symbol = buffer;
    }
    const int32_t found = vocab_.find(symbol);
    if (found >= 0) {
      if (pending_unk) add(unk_id, unk_length);
      pending_unk = false;
      add(found, byte_length);
      continue;
    }
    if (byte_fallback_) {
      std::vector<int32_t> bytes;
      for (const char b : symbol) {
        const int32_t id = byte_ids_[static_cast<unsigned char>(b)];
        if (id < 0) break;
        bytes.push_back(id);
      }
      if (bytes.size() == symbol.size()) {
        // tokenizers adds the bytes without first adding an unk still pending.
        for (const int32_t id : bytes) add(id, 1);
        continue;
      }
    }
    if (!unk_token_) continue;  // no unk token: the character is dropped
    const int32_t unk = vocab_.find(*unk_token_);
    if (unk < 0) fail("tokenizer.json: the unk_token \"{}\" is not in the vocabulary", *unk_token_);
    if (pending_unk && fuse_unk_) {
      unk_length += byte_length;
    } else {
      if (pending_unk) add(unk_id, unk_length);
      pending_unk = true;
      unk_id = unk;
      unk_length = byte_length;
    }
  }
  if (pending_unk) add(unk_id, unk_length);
  apply_merges(symbol_ids, symbol_lengths);
  for (size_t k = 0; k < symbol_ids.size(); ++k)
    if (symbol_lengths[k] != 0) ids.push_back(symbol_ids[k]);
}

void BpeModel::apply_merges(std::vector<int32_t>& symbol_ids,
                            std::vector<uint32_t>& symbol_lengths) const {
  const auto n = static_cast<int32_t>(symbol_ids.size());
  if (n < 2) return;
  std::vector<int32_t> prev(n), next(n);
  for (int32_t k = 0; k < n; ++k) {
    prev[k] = k - 1;
    next[k] = k + 1 < n ? k + 1 : -1;
  }
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    int32_t new_id;
  };
  // std heap functions keep the largest on top: "larger" here means lower rank, then lower pos.
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::vector<Candidate> heap;
  heap.reserve(n);
  for (int32_t k = 0; k + 1 < n; ++k)
    if (const Merge* m = merges_.find(symbol_ids[k], symbol_ids[k + 1]))
      heap.push_back({m->rank, k, m->new_id});
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Candidate top = heap.back();
    heap.pop_back();
    const int32_t pos = top.pos;
    if (symbol_lengths[pos] == 0 || next[pos] == -1) continue;  // removed, or the last symbol
    const int32_t right = next[pos];
    const Merge* current = merges_.find(symbol_ids[pos], symbol_ids[right]);
    if (!current || current->new_id != top.new_id) continue;  // a stale entry
    symbol_ids[pos] = top.new_id;
    symbol_lengths[pos] += symbol_lengths[right];
    next[pos] = next[right];
    symbol_lengths[right] = 0;
    if (next[pos] >= 0) prev[next[pos]] = pos;
    if (prev[pos] >= 0)
      if (const Merge* m = merges_.find(symbol_ids[prev[pos]], symbol_ids[pos])) {
        heap.push_back({m->rank, prev[pos], m->new_id});
        std::push_heap(heap.begin(), heap.end(), later);
      }
    if (next[pos] >= 0)
      if (const Merge* m = merges_.find(symbol_ids[pos], symbol_ids[next[pos]])) {
        heap.push_back({m->rank, pos, m->new_id});
        std::push_heap(heap.begin(), heap.end(), later);
      }
  }
}

}  // namespace zili::data::tj
