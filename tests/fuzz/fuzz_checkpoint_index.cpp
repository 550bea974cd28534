// libFuzzer target: model.safetensors.index.json, read as zili opens a sharded checkpoint
// folder that holds two valid shards ("model-00001-of-00002.safetensors" with tensors "a"
// and "b", "model-00002-of-00002.safetensors" with "c"). The index may name shards that do not
// exist, tensors a shard lacks, paths outside the folder, or be no JSON at all: each must be a
// zili::Error; whatever it maps that exists is then read in full.
#include <torch/torch.h>

#include "fuzz_common.h"
#include "io/checkpoint_tensors.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string& dir = zili::fuzz::scratch_dir();
  zili::io::save_safetensors(dir + "/model-00001-of-00002.safetensors",
                             {{"a", torch::arange(6, torch::kFloat32).view({2, 3})},
                              {"b", torch::ones({4}, torch::kBFloat16)}});
  zili::io::save_safetensors(dir + "/model-00002-of-00002.safetensors",
                             {{"c", torch::zeros({3, 1}, torch::kInt64)}});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zili::fuzz::write_scratch("model.safetensors.index.json", data, size);
  zili::fuzz::expect_clean_refusal([&] {
    const auto checkpoint = zili::io::CheckpointTensors::open(zili::fuzz::scratch_dir());
    for (const std::string& name : checkpoint.names()) {
      volatile double sum = checkpoint.tensor(name).to(torch::kFloat64).sum().item<double>();
      (void)sum;
    }
  });
  return 0;
}
