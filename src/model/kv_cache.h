// The key/value cache for incremental decoding: per layer, the rotated keys and the values
// of every position seen so far, [B, Hkv, S, D].
#pragma once

#include <vector>

#include <torch/torch.h>

namespace zili::model {

class KVCache {
 public:
  explicit KVCache(int64_t layers) : keys_(layers), values_(layers) {}
  // Appends k, v [B, Hkv, T, D] of one layer; returns that layer's full [B, Hkv, S, D].
  std::pair<torch::Tensor, torch::Tensor> append(int64_t layer, const torch::Tensor& k,
                                                 const torch::Tensor& v);
  // Positions cached so far (that of layer 0; all layers agree after a full forward).
  int64_t length() const;

 private:
  std::vector<torch::Tensor> keys_, values_;  // [B, Hkv, S, D] each
};

}  // namespace zili::model
