// The vocabulary's token -> id lookup, read for every character and word encoded: an
// open-addressing table of 32-bit slots over one array of (token, id) entries, much lighter on
// memory traffic than a node-based map for 100k+ tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zili::data::tj {

class TokenIndex {
 public:
  // A token given twice keeps its last id (as a JSON object read into a map does).
  void build(std::vector<std::pair<std::string, int32_t>> entries);
  int32_t find(std::string_view token) const;  // -1 when absent
  size_t size() const { return entries_.size(); }
  const std::vector<std::pair<std::string, int32_t>>& entries() const { return entries_; }

 private:
  static uint64_t hash(std::string_view token);
  std::vector<std::pair<std::string, int32_t>> entries_;
  std::vector<int32_t> slots_;    // entry index + 1; 0 for an empty slot
  std::vector<uint32_t> hashes_;  // high bits of each slot's hash, to skip most compares
  uint64_t mask_ = 0;
};

}  // namespace zili::data::tj
