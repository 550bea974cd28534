// The relative error the unit tests compare tensors with (not a test file itself).
#pragma once

#include <catch2/catch.hpp>

#include <torch/torch.h>

namespace zili::test {

// max |a - b| / max |b|: the relative error of a against the reference b, in b's dtype.
inline double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.defined());
  REQUIRE(b.defined());
  REQUIRE(a.sizes() == b.sizes());
  const double denom = b.abs().max().item<double>();
  REQUIRE(denom > 0);
  return (a - b).abs().max().item<double>() / denom;
}

}  // namespace zili::test
