// The tensors of a Hugging Face checkpoint folder: one model.safetensors, or shards listed
// by model.safetensors.index.json ({"metadata": {"total_size": N}, "weight_map": {name:
// shard file}}). Reading is by name across shards; writing splits by a maximum shard size
// the way transformers' save_pretrained does (model-00001-of-00003.safetensors, ...).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"

namespace zili::io {

class CheckpointTensors {
 public:
  // Opens DIR/model.safetensors.index.json if present (every shard it names must exist),
  // else DIR/model.safetensors; zili::Error naming what is missing otherwise.
  static CheckpointTensors open(const std::string& dir);

  std::vector<std::string> names() const;                 // sorted
  const TensorInfo& info(const std::string& name) const;  // zili::Error when absent
  bool contains(const std::string& name) const;
  torch::Tensor tensor(const std::string& name) const;  // zero-copy view into the shard
  // SafetensorsFile::release on the shard holding `name`: drops its pages from memory at
  // once. Call it only when no view of that tensor is in use any more.
  void release(const std::string& name) const;
  // The shard files in use, with their sizes in bytes.
  std::vector<std::pair<std::string, uint64_t>> files() const;
  bool sharded() const;

 private:
  std::string dir_;
  bool sharded_ = false;
  std::vector<std::shared_ptr<SafetensorsFile>> shards_;
  std::map<std::string, std::pair<size_t, const TensorInfo*>> index_;  // name -> shard, entry
};

// "50MB" -> 50'000'000, "5GB", "2GiB", "100KB", or a plain byte count, as transformers'
// max_shard_size reads them (KB/MB/GB powers of 1000, KiB/MiB/GiB powers of 1024).
uint64_t parse_byte_size(const std::string& text);

// Splits specs, in order, into shards of at most max_shard_bytes each (a tensor larger than
// the limit gets a shard of its own). Returns the spec indices of each shard.
std::vector<std::vector<size_t>> plan_shards(const std::vector<TensorSpec>& specs,
                                             uint64_t max_shard_bytes);

// Streams a checkpoint into DIR: model.safetensors when everything fits one shard, else
// shards plus model.safetensors.index.json (written last). `produce(i)` gives the tensor of
// specs[i], in order, one at a time, so only one needs to exist at once; `after_file(path)`
// runs when each file is complete. Each file is written atomically. Returns the file names.
std::vector<std::string> write_checkpoint_streaming(
    const std::string& dir, const std::vector<TensorSpec>& specs, uint64_t max_shard_bytes,
    const std::function<torch::Tensor(size_t)>& produce,
    const std::map<std::string, std::string>& metadata = {},
    const std::function<void(const std::string&)>& after_file = {});

// Writes the named tensors into DIR as model.safetensors (one shard) or as shards plus
// model.safetensors.index.json, each file atomically, and removes the files of an earlier
// save there that the new one did not replace. Returns the file names written.
std::vector<std::string> save_checkpoint_tensors(
    const std::string& dir, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
    uint64_t max_shard_bytes, const std::map<std::string, std::string>& metadata = {});

}  // namespace zili::io
