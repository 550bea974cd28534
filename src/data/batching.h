// Batches for training: the order of examples in an epoch (shuffled by seed and epoch,
// grouped by length to cut padding), and the tensors of one batch, right-padded or packed.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "data/sft_data.h"

namespace zili::data {

// The batches of one epoch, each a list of example indices. Deterministic in (seed, epoch).
// Without packing: examples shuffled, then within windows of 64 batches sorted by length,
// cut into batches of batch_size, and the batch order shuffled (the last batch may be
// short). With packing: examples shuffled, then laid in that order into rows of at most
// max_length tokens (an example that does not fit the current row starts the next one);
// batch_size rows make a batch.
std::vector<std::vector<int64_t>> plan_epoch(const std::vector<int64_t>& lengths,
                                             int64_t batch_size, uint64_t seed, int64_t epoch,
                                             bool packing, int64_t max_length);

struct Batch {
  torch::Tensor input_ids;       // [B, T] int64, padded with the pad id (0 when none)
  torch::Tensor attention_mask;  // [B, T] int64: 1 real token, 0 padding
  torch::Tensor position_ids;    // [B, T] int64: restart at 0 for each packed example
  torch::Tensor segment_ids;     // [B, T] int64 when packed: example number in its row
                                 // (0, 1, ...), -1 on padding; undefined when not packed
  // The shifted-labels convention: position t predicts labels[b, t] (= input_ids[b, t+1]
  // within an example; the pad id where nothing follows), and the loss covers it where
  // loss_mask[b, t] (the next token is a completion / assistant token of the same example).
  torch::Tensor labels;       // [B, T] int64
  torch::Tensor loss_mask;    // [B, T] bool
  int64_t real_tokens = 0;    // non-padding tokens
  int64_t target_tokens = 0;  // true entries of loss_mask
  // Pair batches (make_pair_batch, data/pair_batching.h) only: rows [0, pairs) hold the
  // chosen sequences, rows [pairs, 2 pairs) the rejected ones (row pairs + p is row p's pair),
  // and completion_tokens the true entries of loss_mask per row (its completion's tokens).
  int64_t pairs = 0;
  torch::Tensor completion_tokens;  // [B] int64; undefined in other batches
  int64_t padded_tokens() const { return input_ids.numel(); }
};

// The tensors of one planned batch (on the CPU). With packing, the examples of `indices`
// are laid into rows as plan_epoch did (each row at most max_length tokens).
Batch make_batch(const std::vector<TokenizedExample>& examples, const std::vector<int64_t>& indices,
                 int64_t pad_id, bool packing, int64_t batch_rows, int64_t max_length);

}  // namespace zili::data
