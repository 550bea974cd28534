// libFuzzer target: a safetensors file (header length, JSON header, data), opened as zili
// opens a checkpoint's shard, then every tensor it lists read in full. A header that lies
// (offsets past the end, overlapping tensors, a shape that disagrees with its bytes, an
// unknown dtype, a huge length) must be refused with a zili::Error, never read out of bounds.
#include "fuzz_common.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = zili::fuzz::write_scratch("model.safetensors", data, size);
  zili::fuzz::expect_clean_refusal([&] {
    auto file = zili::io::SafetensorsFile::open(path);
    for (const auto& info : file->tensors()) {
      // Every byte of every tensor, through the zero-copy view.
      const torch::Tensor bytes = file->tensor(info.name).flatten().view(torch::kUInt8);
      volatile int64_t sum = bytes.sum().item<int64_t>();
      (void)sum;
    }
  });
  return 0;
}
