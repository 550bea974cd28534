// TokenIndex: linear probing at under 50% load; a slot keeps the upper hash bits beside the
// entry index so that a probe compares strings only when those agree.
#include "data/tokenizer_json/token_index.h"

namespace zili::data::tj {

uint64_t TokenIndex::hash(std::string_view token) {
  // FNV-1a over the bytes, then a multiplicative mix so that the low bits spread.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : token) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ULL;
}

void TokenIndex::build(std::vector<std::pair<std::string, int32_t>> entries) {
  entries_ = std::move(entries);
  size_t capacity = 16;
  while (capacity < 2 * entries_.size() + 16) capacity <<= 1;
  mask_ = capacity - 1;
  slots_.assign(capacity, 0);
  hashes_.assign(capacity, 0);
  size_t kept = 0;
  for (size_t e = 0; e < entries_.size(); ++e) {
    const uint64_t h = hash(entries_[e].first);
    for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
      if (slots_[i] == 0) {
        if (kept != e) entries_[kept] = std::move(entries_[e]);
        slots_[i] = static_cast<int32_t>(kept + 1);
        hashes_[i] = static_cast<uint32_t>(h >> 32);
        ++kept;
        break;
      }
      auto& existing = entries_[slots_[i] - 1];
      if (hashes_[i] == static_cast<uint32_t>(h >> 32) && existing.first == entries_[e].first) {
        existing.second = entries_[e].second;  // the later id wins
        break;
      }
    }
  }
  entries_.resize(kept);
}

int32_t TokenIndex::find(std::string_view token) const {
  if (slots_.empty()) return -1;
  const uint64_t h = hash(token);
  const auto high = static_cast<uint32_t>(h >> 32);
  for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const int32_t slot = slots_[i];
    if (slot == 0) return -1;
    if (hashes_[i] == high && entries_[slot - 1].first == token) return entries_[slot - 1].second;
  }
}

}  // namespace zili::data::tj
