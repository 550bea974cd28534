// Split behaviours over matched/unmatched spans, as tokenizers' NormalizedString::split
// folds them: Isolated keeps every span, Removed drops the matches, Contiguous joins runs of
// the same kind, MergedWithPrevious/Next glue each match to its neighbour.
#include "data/tokenizer_json/pieces.h"

#include <algorithm>

namespace zili::data::tj {

bool parse_split_behavior(const std::string& name, SplitBehavior& behavior) {
  if (name == "Removed")
    behavior = SplitBehavior::removed;
  else if (name == "Isolated")
    behavior = SplitBehavior::isolated;
  else if (name == "MergedWithPrevious")
    behavior = SplitBehavior::merged_with_previous;
  else if (name == "MergedWithNext")
    behavior = SplitBehavior::merged_with_next;
  else if (name == "Contiguous")
    behavior = SplitBehavior::contiguous;
  else
    return false;
  return true;
}

void apply_split_behavior(const std::vector<Span>& spans, SplitBehavior behavior,
                          std::vector<Span>& kept) {
  kept.clear();
  switch (behavior) {
    case SplitBehavior::isolated:
      kept = spans;
      return;
    case SplitBehavior::removed:
      for (const Span& span : spans)
        if (!span.is_match) kept.push_back(span);
      return;
    case SplitBehavior::contiguous: {
      bool previous_match = false;
      for (const Span& span : spans) {
        if (span.is_match == previous_match && !kept.empty())
          kept.back().end = span.end;
        else
          kept.push_back(span);
        previous_match = span.is_match;
      }
      return;
    }
    case SplitBehavior::merged_with_previous: {
      bool previous_match = false;
      for (const Span& span : spans) {
        if (span.is_match && !previous_match && !kept.empty())
          kept.back().end = span.end;
        else
          kept.push_back(span);
        previous_match = span.is_match;
      }
      return;
    }
    case SplitBehavior::merged_with_next: {
      // The same fold from the right: a match joins the span after it.
      bool previous_match = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !kept.empty())
          kept.back().start = it->start;
        else
          kept.push_back(*it);
        previous_match = it->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      return;
    }
  }
}

void append_ranges(const Piece& piece, const std::vector<Span>& kept, std::vector<Piece>& out) {
  for (const Span& range : kept) {
    if (range.end <= range.start) continue;
    Piece sub;
    sub.text.assign(piece.text, range.start, range.end - range.start);
    sub.at_origin = piece.at_origin && range.start == 0;
    out.push_back(std::move(sub));
  }
}

}  // namespace zili::data::tj
