// Epoch plans (deterministic, a permutation per epoch, length grouping that cuts padding,
// packing within max_length) and batch tensors (shifted labels, loss mask, positions and
// segments) checked against a hand-made example.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "data/batching.h"

using namespace zili::data;

namespace {

using Rows = std::vector<std::vector<int64_t>>;

std::vector<int64_t> random_lengths(size_t n, int64_t max, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> lengths(n);
  for (auto& length : lengths) length = 1 + static_cast<int64_t>(rng() % max);
  return lengths;
}

std::vector<int64_t> flatten(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<int64_t> all;
  for (const auto& batch : batches) all.insert(all.end(), batch.begin(), batch.end());
  return all;
}

bool is_permutation_of_all(std::vector<int64_t> indices, size_t n) {
  std::sort(indices.begin(), indices.end());
  std::vector<int64_t> expected(n);
  std::iota(expected.begin(), expected.end(), 0);
  return indices == expected;
}

// Tokens a right-padded batch holds: its size times its longest example.
int64_t padded_tokens(const std::vector<std::vector<int64_t>>& batches,
                      const std::vector<int64_t>& lengths) {
  int64_t total = 0;
  for (const auto& batch : batches) {
    int64_t longest = 0;
    for (const int64_t i : batch) longest = std::max(longest, lengths[i]);
    total += longest * static_cast<int64_t>(batch.size());
  }
  return total;
}

// Examples of the given lengths (ids 1..L, every token after the first a target).
std::vector<TokenizedExample> examples_of(const std::vector<int64_t>& lengths) {
  std::vector<TokenizedExample> examples(lengths.size());
  for (size_t i = 0; i < lengths.size(); ++i) {
    examples[i].ids.resize(lengths[i]);
    std::iota(examples[i].ids.begin(), examples[i].ids.end(), 1);
    examples[i].target.assign(lengths[i], 1);
    examples[i].target[0] = 0;
  }
  return examples;
}

std::vector<std::vector<int64_t>> rows_of(const torch::Tensor& t) {
  std::vector<std::vector<int64_t>> rows(t.size(0));
  const torch::Tensor c = t.to(torch::kInt64).contiguous();
  for (int64_t b = 0; b < t.size(0); ++b)
    rows[b].assign(c[b].data_ptr<int64_t>(), c[b].data_ptr<int64_t>() + t.size(1));
  return rows;
}

}  // namespace

TEST_CASE("plan_epoch: deterministic, every example once per epoch, new order each epoch") {
  const auto lengths = random_lengths(1000, 300, 1);
  for (const bool packing : {false, true}) {
    INFO("packing " << packing);
    const auto a = plan_epoch(lengths, 8, 42, 0, packing, 512);
    CHECK(a == plan_epoch(lengths, 8, 42, 0, packing, 512));
    CHECK(is_permutation_of_all(flatten(a), lengths.size()));
    const auto next = plan_epoch(lengths, 8, 42, 1, packing, 512);
    CHECK(is_permutation_of_all(flatten(next), lengths.size()));
    CHECK(flatten(next) != flatten(a));
    CHECK(flatten(plan_epoch(lengths, 8, 43, 0, packing, 512)) != flatten(a));
  }
  // The exact order is pinned: a change to the shuffle would silently change every resumed
  // run's data, so it must show up here.
  // Lengths sorted: 3(1) 5(2) 1(3) 0(5) 6(7) 2(8) 4(9), cut in pairs, pairs shuffled.
  CHECK(plan_epoch({5, 3, 8, 1, 9, 2, 7}, 2, 7, 3, false, 16) == Rows{{6, 2}, {4}, {3, 5}, {1, 0}});
  // Shuffled 2 3 1 5 0 4 6, next-fit into rows of 10: [2 3] [1 5 0] [4] [6], 2 rows a batch.
  CHECK(plan_epoch({5, 3, 8, 1, 9, 2, 7}, 2, 7, 3, true, 10) == Rows{{2, 3, 1, 5, 0}, {4, 6}});
}

TEST_CASE("plan_epoch without packing: full batches but one, grouped lengths, less padding") {
  const auto lengths = random_lengths(2001, 500, 2);
  const int64_t batch_size = 8;
  const auto plan = plan_epoch(lengths, batch_size, 5, 0, false, 512);
  CHECK(plan.size() == (lengths.size() + batch_size - 1) / batch_size);
  CHECK(std::count_if(plan.begin(), plan.end(), [&](const auto& b) {
          return static_cast<int64_t>(b.size()) != batch_size;
        }) == 1);
  // A random order cut into batches, for comparison.
  std::vector<int64_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(9));
  std::vector<std::vector<int64_t>> random_plan;
  for (size_t i = 0; i < order.size(); i += batch_size)
    random_plan.emplace_back(order.begin() + i,
                             order.begin() + std::min(order.size(), i + batch_size));
  const int64_t real = std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  const int64_t grouped_padding = padded_tokens(plan, lengths) - real;
  const int64_t random_padding = padded_tokens(random_plan, lengths) - real;
  INFO("padding: grouped " << grouped_padding << ", random " << random_padding);
  CHECK(grouped_padding * 10 < random_padding);
  // Batches are not in length order: grouping happens inside windows, and the batch order
  // is shuffled.
  std::vector<int64_t> firsts;
  for (const auto& b : plan) firsts.push_back(lengths[b[0]]);
  CHECK_FALSE(std::is_sorted(firsts.begin(), firsts.end()));
}

TEST_CASE("plan_epoch with packing: rows within max_length, batch_size rows a batch") {
  const auto lengths = random_lengths(500, 200, 3);
  const auto examples = examples_of(lengths);
  const int64_t max_length = 256, batch_rows = 4;
  const auto plan = plan_epoch(lengths, batch_rows, 11, 2, true, max_length);
  int64_t rows = 0;
  for (size_t k = 0; k < plan.size(); ++k) {
    const Batch batch = make_batch(examples, plan[k], 0, true, batch_rows, max_length);
    CHECK(batch.input_ids.size(1) <= max_length);
    CHECK(batch.attention_mask.sum(1).le(max_length).all().item<bool>());
    // Every batch but the last has exactly batch_rows rows.
    if (k + 1 < plan.size()) CHECK(batch.input_ids.size(0) == batch_rows);
    CHECK(batch.input_ids.size(0) <= batch_rows);
    rows += batch.input_ids.size(0);
    int64_t real = 0;
    for (const int64_t i : plan[k]) real += lengths[i];
    CHECK(batch.real_tokens == real);
    CHECK(batch.attention_mask.sum().item<int64_t>() == real);
  }
  // Next-fit fills rows well with lengths up to max_length / 1.28.
  const int64_t real = std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  CHECK(real > rows * max_length / 2);
}

TEST_CASE("make_batch on a hand-made example") {
  std::vector<TokenizedExample> examples(3);
  examples[0].ids = {1, 10, 11, 12, 2};
  examples[0].target = {0, 0, 1, 1, 1};
  examples[1].ids = {1, 20, 2};
  examples[1].target = {0, 1, 1};
  examples[2].ids = {1, 30, 31, 32, 33, 34, 2};
  examples[2].target = {0, 0, 0, 0, 1, 1, 1};

  SECTION("right padding") {
    const Batch b = make_batch(examples, {0, 1}, 0, false, 2, 8);
    CHECK(rows_of(b.input_ids) == Rows{{1, 10, 11, 12, 2}, {1, 20, 2, 0, 0}});
    CHECK(rows_of(b.attention_mask) == Rows{{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}});
    CHECK(rows_of(b.position_ids) == Rows{{0, 1, 2, 3, 4}, {0, 1, 2, 0, 0}});
    CHECK(rows_of(b.labels) == Rows{{10, 11, 12, 2, 0}, {20, 2, 0, 0, 0}});
    CHECK(rows_of(b.loss_mask) == Rows{{0, 1, 1, 1, 0}, {1, 1, 0, 0, 0}});
    CHECK(b.loss_mask.dtype() == torch::kBool);
    CHECK(b.input_ids.dtype() == torch::kInt64);
    CHECK_FALSE(b.segment_ids.defined());
    CHECK(b.real_tokens == 8);
    CHECK(b.target_tokens == 5);
    CHECK(b.padded_tokens() == 10);
  }
  SECTION("packed: examples 0 and 1 share a row, example 2 starts the next") {
    const Batch b = make_batch(examples, {0, 1, 2}, 99, true, 2, 8);
    CHECK(rows_of(b.input_ids) ==
          Rows{{1, 10, 11, 12, 2, 1, 20, 2}, {1, 30, 31, 32, 33, 34, 2, 99}});
    CHECK(rows_of(b.attention_mask) == Rows{{1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 0}});
    CHECK(rows_of(b.position_ids) == Rows{{0, 1, 2, 3, 4, 0, 1, 2}, {0, 1, 2, 3, 4, 5, 6, 0}});
    CHECK(rows_of(b.segment_ids) == Rows{{0, 0, 0, 0, 0, 1, 1, 1}, {0, 0, 0, 0, 0, 0, 0, -1}});
    // No label crosses from one packed example into the next.
    CHECK(rows_of(b.labels) ==
          Rows{{10, 11, 12, 2, 99, 20, 2, 99}, {30, 31, 32, 33, 34, 2, 99, 99}});
    CHECK(rows_of(b.loss_mask) == Rows{{0, 1, 1, 1, 0, 1, 1, 0}, {0, 0, 0, 1, 1, 1, 0, 0}});
    CHECK(b.real_tokens == 15);
    CHECK(b.target_tokens == 8);
    CHECK(b.padded_tokens() == 16);
  }
}
