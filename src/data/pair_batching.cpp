// Pair batches: each pair's two sequences laid out as SFT examples whose targets are the
// completion tokens, handed to make_batch, so DPO's labels and masks are SFT's to the token.
#include "data/pair_batching.h"

#include <algorithm>
#include <numeric>

namespace zili::data {

namespace {

// prompt + completion as an example trained on the completion only.
TokenizedExample sequence_of(const TokenizedPair& pair, const std::vector<int64_t>& completion) {
  TokenizedExample example;
  example.line = pair.line;
  example.ids = pair.prompt;
  example.ids.insert(example.ids.end(), completion.begin(), completion.end());
  example.target.assign(pair.prompt.size(), 0);
  example.target.insert(example.target.end(), completion.size(), 1);
  example.target[0] = 0;  // nothing before the first token predicts it (an empty prompt)
  example.truncated = pair.truncated;
  return example;
}

}  // namespace

std::vector<int64_t> pair_lengths(const std::vector<TokenizedPair>& pairs) {
  std::vector<int64_t> lengths;
  lengths.reserve(pairs.size());
  for (const TokenizedPair& pair : pairs)
    lengths.push_back(std::max(pair.chosen_length(), pair.rejected_length()));
  return lengths;
}

std::vector<std::vector<int64_t>> plan_pair_epoch(const std::vector<TokenizedPair>& pairs,
                                                  int64_t batch_size, uint64_t seed,
                                                  int64_t epoch) {
  const std::vector<int64_t> lengths = pair_lengths(pairs);
  const int64_t longest = lengths.empty() ? 1 : *std::max_element(lengths.begin(), lengths.end());
  return plan_epoch(lengths, batch_size, seed, epoch, /*packing=*/false, longest);
}

Batch make_pair_batch(const std::vector<TokenizedPair>& pairs, const std::vector<int64_t>& indices,
                      int64_t pad_id) {
  TORCH_CHECK(!indices.empty(), "make_pair_batch: no pairs");
  const auto P = static_cast<int64_t>(indices.size());
  std::vector<TokenizedExample> rows;
  rows.reserve(2 * P);
  for (const bool chosen : {true, false}) {
    for (const int64_t index : indices) {
      TORCH_CHECK(index >= 0 && index < static_cast<int64_t>(pairs.size()),
                  "make_pair_batch: pair index ", index, " out of range 0..", pairs.size() - 1);
      const TokenizedPair& pair = pairs[index];
      rows.push_back(sequence_of(pair, chosen ? pair.chosen : pair.rejected));
    }
  }
  std::vector<int64_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  Batch batch = make_batch(rows, order, pad_id, /*packing=*/false, 2 * P, /*max_length=*/0);
  batch.pairs = P;
  batch.completion_tokens = batch.loss_mask.sum(1, /*keepdim=*/false, torch::kInt64);
  return batch;
}

}  // namespace zili::data
