// The hashed LoRA dropout mask (the fused kernels' reference, in int64 tensor ops) against the
// hash written out on uint32 scalars here, indices past 2^32 included; its statistics (keep
// rate, independence of neighbours and of seeds); its values in each dtype; and the per-call
// seed.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "lora/hashed_dropout.h"

using zili::lora::hashed_dropout_keep;
using zili::lora::hashed_dropout_mask;

namespace {

// lowbias32 on uint32, as kernels/lora_dropout.h writes it.
uint32_t mix32(uint32_t v) {
  v ^= v >> 16;
  v *= 0x7feb352dU;
  v ^= v >> 15;
  v *= 0x846ca68bU;
  v ^= v >> 16;
  return v;
}

bool scalar_keep(uint64_t seed, uint64_t i, double p) {
  const uint32_t h = mix32(mix32(static_cast<uint32_t>(i) ^ static_cast<uint32_t>(seed)) ^
                           static_cast<uint32_t>(seed >> 32) ^ static_cast<uint32_t>(i >> 32));
  return (h >> 8) >= static_cast<uint32_t>(std::llround(p * 16777216.0));
}

constexpr uint64_t kSeed = 0x9e3779b97f4a7c15ULL;  // both halves non-zero

}  // namespace

TEST_CASE("hashed_dropout_keep equals the hash on uint32 scalars", "[lora][dropout]") {
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < 4096; ++i) indices.push_back(i);
  // Past 2^32: the high half of the index takes part.
  for (const int64_t i : {int64_t{1} << 32, (int64_t{1} << 32) + 77, (int64_t{1} << 40) + 12345,
                          (int64_t{1} << 62) + 3, INT64_MAX}) {
    indices.push_back(i);
  }
  const torch::Tensor index_tensor = torch::tensor(indices, torch::kInt64);
  for (const uint64_t seed : {uint64_t{0}, kSeed, ~uint64_t{0}}) {
    for (const double p : {0.05, 0.3, 0.5, 0.9}) {
      INFO("seed " << seed << ", p " << p);
      const torch::Tensor keep = hashed_dropout_keep(index_tensor, seed, p);
      REQUIRE(keep.scalar_type() == torch::kBool);
      const auto k = keep.accessor<bool, 1>();
      int64_t mismatches = 0;
      for (size_t j = 0; j < indices.size(); ++j) {
        mismatches += k[static_cast<int64_t>(j)] != scalar_keep(seed, indices[j], p);
      }
      CHECK(mismatches == 0);
    }
  }
  // A seed's high half changes the mask, as its low half does.
  const torch::Tensor a = hashed_dropout_keep(index_tensor, kSeed, 0.5);
  CHECK_FALSE(torch::equal(a, hashed_dropout_keep(index_tensor, kSeed ^ (uint64_t{1} << 40), 0.5)));
  CHECK_FALSE(torch::equal(a, hashed_dropout_keep(index_tensor, kSeed ^ 1, 0.5)));
}

TEST_CASE("hashed dropout keeps 1 - p of the elements, independently", "[lora][dropout]") {
  constexpr int64_t n = int64_t{1} << 20;
  for (const double p : {0.05, 0.1, 0.5}) {
    INFO("p " << p);
    // Five standard deviations of a fraction of n independent draws.
    const double tolerance = 5 * std::sqrt(p * (1 - p) / n);
    const torch::Tensor keep =
        hashed_dropout_mask({n}, kSeed, p, torch::kFloat64).ne(0).to(torch::kFloat64);
    CHECK(std::abs(keep.mean().item<double>() - (1 - p)) <= tolerance);
    // Neighbours (i, i + 1) and rows apart (i, i + 4096) are both kept (1 - p)^2 of the time.
    const double both = (1 - p) * (1 - p), tolerance2 = 5 * std::sqrt(both * (1 - both) / n);
    for (const int64_t gap : {int64_t{1}, int64_t{4096}}) {
      const double pairs =
          (keep.narrow(0, 0, n - gap) * keep.narrow(0, gap, n - gap)).mean().item<double>();
      CHECK(std::abs(pairs - both) <= tolerance2);
    }
    // Two seeds agree as two independent masks do: (1 - p)^2 + p^2.
    const torch::Tensor other =
        hashed_dropout_mask({n}, kSeed + 1, p, torch::kFloat64).ne(0).to(torch::kFloat64);
    const double agree = keep.eq(other).to(torch::kFloat64).mean().item<double>();
    const double expected = both + p * p;
    CHECK(std::abs(agree - expected) <= 5 * std::sqrt(expected * (1 - expected) / n));
  }
}

TEST_CASE("hashed_dropout_mask holds 0 and 1 / (1 - p) in the dtype asked for", "[lora][dropout]") {
  const double p = 0.3;
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat16, torch::kFloat64}) {
    INFO(dtype);
    const torch::Tensor mask = hashed_dropout_mask({3, 7, 11}, kSeed, p, dtype);
    REQUIRE(mask.scalar_type() == dtype);
    REQUIRE(mask.sizes() == torch::IntArrayRef({3, 7, 11}));
    // 1 / 0.7 rounded to float32, then to the dtype.
    const double scale = torch::tensor(static_cast<float>(1 / 0.7)).to(dtype).item<double>();
    CHECK((mask.eq(0) | mask.eq(scale)).all().item<bool>());
    CHECK(mask.eq(0).any().item<bool>());
    // The element at flat index i follows scalar_keep(i).
    const torch::Tensor flat = mask.reshape(-1);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      CHECK((flat[i].item<double>() != 0) == scalar_keep(kSeed, static_cast<uint64_t>(i), p));
    }
  }
  // p = 0 keeps everything, with scale 1.
  CHECK(torch::equal(hashed_dropout_mask({5, 9}, kSeed, 0, torch::kFloat32), torch::ones({5, 9})));
  CHECK_THROWS_WITH(hashed_dropout_mask({4}, kSeed, 1.0, torch::kFloat32),
                    Catch::Contains("p expected in [0, 1), got 1"));
}

TEST_CASE("hashed dropout's seed: from the CPU generator, repeatable", "[lora][dropout]") {
  // The CPU takes bernoulli_ instead (lora_linear.h): never the hashed path.
  CHECK_FALSE(zili::lora::hashed_dropout_fused(torch::ones({2})));
  // Two draws of the per-call seed differ, and torch::manual_seed makes them repeat.
  torch::manual_seed(9);
  const uint64_t first = zili::lora::draw_dropout_seed(), second = zili::lora::draw_dropout_seed();
  CHECK(first != second);
  torch::manual_seed(9);
  CHECK(zili::lora::draw_dropout_seed() == first);
}
