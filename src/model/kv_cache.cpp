// KV cache: appends along the sequence axis.
#include "model/kv_cache.h"

namespace zili::model {

std::pair<torch::Tensor, torch::Tensor> KVCache::append(int64_t layer, const torch::Tensor& k,
                                                        const torch::Tensor& v) {
  TORCH_CHECK(layer >= 0 && layer < static_cast<int64_t>(keys_.size()), "KV cache has ",
              keys_.size(), " layers, asked for layer ", layer);
  torch::Tensor& keys = keys_[layer];
  torch::Tensor& values = values_[layer];
  keys = keys.defined() ? torch::cat({keys, k}, 2) : k;
  values = values.defined() ? torch::cat({values, v}, 2) : v;
  return {keys, values};
}

int64_t KVCache::length() const {
  return keys_.empty() || !keys_[0].defined() ? 0 : keys_[0].size(2);
}

}  // namespace zili::model
