// libFuzzer target: config.json, parsed as zili reads a checkpoint's configuration, then the
// parameter shapes derived from it (where sizes multiply, and could overflow). JSON that is
// not an object, missing or mistyped keys, negative or absurd sizes, heads that do not divide
// the hidden size, unknown rope scaling: each must be a zili::Error.
#include "fuzz_common.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = zili::fuzz::write_scratch("config.json", data, size);
  zili::fuzz::expect_clean_refusal([&] {
    const zili::model::ModelConfig config = zili::model::load_config(path);
    uint64_t elements = 0;  // unsigned: wraps, where a signed sum would be undefined
    for (const auto& parameter : zili::model::parameter_shapes(config)) {
      uint64_t count = 1;
      for (int64_t d : parameter.shape) count *= static_cast<uint64_t>(d);
      elements += count;
    }
    volatile uint64_t sink = elements;
    (void)sink;
  });
  return 0;
}
