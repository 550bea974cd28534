// Batches of preference pairs for DPO: the chosen and the rejected sequences of P pairs in one
// right-padded batch of 2P rows, so a step runs one policy forward (and one reference forward)
// for both sides, and the loss pairs row p with row P + p.
#pragma once

#include <cstdint>
#include <vector>

#include "data/batching.h"
#include "data/preference_data.h"

namespace zili::data {

// The length each pair takes in a batch: its longer sequence (prompt + completion).
std::vector<int64_t> pair_lengths(const std::vector<TokenizedPair>& pairs);

// The batches of one epoch, each a list of pair indices: plan_epoch on pair_lengths (shuffled
// by seed and epoch, grouped by length within windows, never packed: the chosen and the
// rejected sequence of a pair each need a row of their own).
std::vector<std::vector<int64_t>> plan_pair_epoch(const std::vector<TokenizedPair>& pairs,
                                                  int64_t batch_size, uint64_t seed, int64_t epoch);

// The tensors of one planned batch (on the CPU): rows [0, P) the chosen sequences of the pairs
// in `indices`, rows [P, 2P) their rejected ones in the same order, right-padded with pad_id to
// the longest of all 2P. Labels and loss mask follow make_batch's shifted-labels convention
// (it builds them), with the loss on completion tokens only (EOS included, the prompt not);
// batch.pairs = P and batch.completion_tokens[r] = the loss positions of row r.
Batch make_pair_batch(const std::vector<TokenizedPair>& pairs, const std::vector<int64_t>& indices,
                      int64_t pad_id);

}  // namespace zili::data
