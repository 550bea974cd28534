// The text on its way through a tokenizer.json pipeline: a list of pieces (tokenizers'
// PreTokenizedString splits), each either plain text still to be split and tokenized, or an
// added token already found. Also the split behaviours (tokenizers' SplitDelimiterBehavior).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer_json/regex.h"

namespace zili::data::tj {

struct Piece {
  std::string text;
  // Whether the piece starts where the original text starts (tokenizers' offsets_original().0
  // == 0), which Metaspace's prepend_scheme "first" asks. A sub-piece keeps it only when it
  // starts at its parent's first byte.
  bool at_origin = false;
  int64_t token_id = -1;  // an added token's id; -1 for text
};

enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

// "Removed", "Isolated", ... as tokenizer.json spells them; false for an unknown name.
bool parse_split_behavior(const std::string& name, SplitBehavior& behavior);

// The [start, end) pieces that `behavior` keeps of spans covering a text (tokenizers'
// NormalizedString::split after find_matches); empty ranges included, the caller drops them.
void apply_split_behavior(const std::vector<Span>& spans, SplitBehavior behavior,
                          std::vector<Span>& kept);

// Replaces each text piece by what split_one makes of it (appended to `out`), dropping the
// empty ones; added-token pieces pass untouched. split_one(const Piece&, std::vector<Piece>&).
template <typename SplitOne>
void split_pieces(std::vector<Piece>& pieces, SplitOne&& split_one) {
  std::vector<Piece> result;
  result.reserve(pieces.size());
  for (Piece& piece : pieces) {
    if (piece.token_id >= 0) {
      result.push_back(std::move(piece));
      continue;
    }
    const size_t first = result.size();
    split_one(piece, result);
    size_t kept = first;
    for (size_t i = first; i < result.size(); ++i)
      if (!result[i].text.empty() || result[i].token_id >= 0) {
        if (kept != i) result[kept] = std::move(result[i]);
        ++kept;
      }
    result.resize(kept);
  }
  pieces = std::move(result);
}

// Appends the kept ranges of `piece` as pieces.
void append_ranges(const Piece& piece, const std::vector<Span>& kept, std::vector<Piece>& out);

}  // namespace zili::data::tj
