// Epoch plans (which examples go together, in which order) and the tensors of one batch:
// right padding, or several examples packed into a row with positions that restart.
#include "data/batching.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace zili::data {

namespace {

// Uniform in [0, n) from the generator's 64-bit outputs. Hand-written rather than
// std::uniform_int_distribution / std::shuffle, whose algorithms the standard leaves to the
// library: a plan must be the same on every machine for a resumed run to see the same data.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  // Reject the first 2^64 mod n values so each residue is equally likely.
  const uint64_t threshold = (0 - n) % n;
  uint64_t x = rng();
  while (x < threshold) x = rng();
  return x % n;
}

template <typename T>
void shuffle(std::vector<T>& items, std::mt19937_64& rng) {
  // Fisher-Yates, from the back.
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[uniform_below(rng, i)]);
}

// The generator of one epoch: std::seed_seq and mt19937_64 are specified exactly by the
// standard, so (seed, epoch) gives the same stream everywhere.
std::mt19937_64 epoch_rng(uint64_t seed, int64_t epoch) {
  const auto e = static_cast<uint64_t>(epoch);
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(e), static_cast<uint32_t>(e >> 32)};
  return std::mt19937_64(seq);
}

// Next-fit packing: examples in the given order, a new row whenever the next one does not
// fit in max_length beside the current row.
std::vector<std::vector<int64_t>> pack_rows(const std::vector<int64_t>& order,
                                            const std::vector<int64_t>& lengths,
                                            int64_t max_length) {
  std::vector<std::vector<int64_t>> rows;
  int64_t row_length = 0;
  for (const int64_t index : order) {
    const int64_t length = lengths[index];
    TORCH_CHECK(length >= 1 && length <= max_length, "pack_rows: example ", index, " has ", length,
                " tokens, expected 1..", max_length);
    if (rows.empty() || row_length + length > max_length) {
      rows.emplace_back();
      row_length = 0;
    }
    rows.back().push_back(index);
    row_length += length;
  }
  return rows;
}

}  // namespace

std::vector<std::vector<int64_t>> plan_epoch(const std::vector<int64_t>& lengths,
                                             int64_t batch_size, uint64_t seed, int64_t epoch,
                                             bool packing, int64_t max_length) {
  TORCH_CHECK(batch_size >= 1, "plan_epoch: batch_size must be >= 1, got ", batch_size);
  std::mt19937_64 rng = epoch_rng(seed, epoch);
  std::vector<int64_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  shuffle(order, rng);

  std::vector<std::vector<int64_t>> batches;
  if (packing) {
    const auto rows = pack_rows(order, lengths, max_length);
    for (size_t r = 0; r < rows.size(); r += batch_size) {
      std::vector<int64_t>& batch = batches.emplace_back();
      const size_t end = std::min(rows.size(), r + static_cast<size_t>(batch_size));
      for (size_t k = r; k < end; ++k) batch.insert(batch.end(), rows[k].begin(), rows[k].end());
    }
    return batches;
  }
  // Length grouping: sorting within a window of 64 batches puts similar lengths together
  // (less padding) while examples still meet new neighbours each epoch; shuffling the
  // batches afterwards keeps short and long batches from arriving in runs.
  const size_t window = 64 * static_cast<size_t>(batch_size);
  for (size_t w = 0; w < order.size(); w += window) {
    const auto begin = order.begin() + w;
    const auto end = order.begin() + std::min(order.size(), w + window);
    std::stable_sort(begin, end, [&](int64_t a, int64_t b) { return lengths[a] < lengths[b]; });
    for (auto it = begin; it < end; it += std::min<ptrdiff_t>(batch_size, end - it))
      batches.emplace_back(it, it + std::min<ptrdiff_t>(batch_size, end - it));
  }
  shuffle(batches, rng);
  return batches;
}

Batch make_batch(const std::vector<TokenizedExample>& examples, const std::vector<int64_t>& indices,
                 int64_t pad_id, bool packing, int64_t batch_rows, int64_t max_length) {
  TORCH_CHECK(!indices.empty(), "make_batch: no examples");
  for (const int64_t index : indices)
    TORCH_CHECK(index >= 0 && index < static_cast<int64_t>(examples.size()),
                "make_batch: example index ", index, " out of range 0..", examples.size() - 1);
  std::vector<std::vector<int64_t>> rows;
  if (packing) {
    std::vector<int64_t> lengths(examples.size());
    for (const int64_t index : indices) lengths[index] = examples[index].ids.size();
    rows = pack_rows(indices, lengths, max_length);
  } else {
    for (const int64_t index : indices) rows.push_back({index});
  }
  TORCH_CHECK(static_cast<int64_t>(rows.size()) <= batch_rows, "make_batch: ", rows.size(),
              " rows, expected at most ", batch_rows);

  const auto B = static_cast<int64_t>(rows.size());
  int64_t T = 0;
  for (const auto& row : rows) {
    int64_t length = 0;
    for (const int64_t index : row) length += examples[index].ids.size();
    T = std::max(T, length);
  }
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  Batch batch;
  batch.input_ids = torch::full({B, T}, pad_id, i64);
  batch.attention_mask = torch::zeros({B, T}, i64);
  batch.position_ids = torch::zeros({B, T}, i64);
  batch.labels = torch::full({B, T}, pad_id, i64);
  batch.loss_mask = torch::zeros({B, T}, torch::kBool);
  torch::Tensor segments = torch::full({B, T}, -1, i64);
  auto input = batch.input_ids.accessor<int64_t, 2>();
  auto attention = batch.attention_mask.accessor<int64_t, 2>();
  auto position = batch.position_ids.accessor<int64_t, 2>();
  auto segment = segments.accessor<int64_t, 2>();
  auto label = batch.labels.accessor<int64_t, 2>();
  auto mask = batch.loss_mask.accessor<bool, 2>();

  for (int64_t b = 0; b < B; ++b) {
    int64_t offset = 0;  // where the next example of the row starts
    for (size_t k = 0; k < rows[b].size(); ++k) {
      const TokenizedExample& example = examples[rows[b][k]];
      const auto L = static_cast<int64_t>(example.ids.size());
      TORCH_CHECK(example.target.size() == example.ids.size(), "make_batch: example on line ",
                  example.line, " has ", example.target.size(), " targets for ", L, " ids");
      for (int64_t t = 0; t < L; ++t) {
        const int64_t at = offset + t;
        input[b][at] = example.ids[t];
        attention[b][at] = 1;
        position[b][at] = t;
        segment[b][at] = static_cast<int64_t>(k);
        // Shifted labels: position t predicts token t+1 of the same example; the last
        // token of an example predicts nothing (pad label, no loss).
        if (t + 1 < L) {
          label[b][at] = example.ids[t + 1];
          mask[b][at] = example.target[t + 1] != 0;
          batch.target_tokens += example.target[t + 1] != 0;
        }
      }
      offset += L;
      batch.real_tokens += L;
    }
  }
  if (packing) batch.segment_ids = segments;
  return batch;
}

}  // namespace zili::data
