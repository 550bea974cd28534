// libFuzzer target: adapter_config.json, parsed as zili reads a PEFT adapter, then matched
// against the linear layers of the tiny preset the way an adapter is checked against its base
// (target_modules as names, as "all-linear", or as a regular expression; layers_to_transform).
// Wrong types, ranks, unknown PEFT features (DoRA, other peft_type), bad or runaway regular
// expressions: each must be a zili::Error.
#include <nlohmann/json.hpp>

#include "fuzz_common.h"
#include "io/peft_adapter.h"
#include "lora/lora_model.h"
#include "model/presets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json json = nlohmann::json::parse(data, data + size, nullptr, false);
  if (json.is_discarded()) return 0;  // not JSON: read_adapter refuses it before parsing
  static const zili::model::ModelConfig base = zili::model::preset_config("tiny", 512);
  zili::fuzz::expect_clean_refusal([&] {
    const zili::io::AdapterConfig config =
        zili::io::parse_adapter_config(json, "adapter_config.json");
    (void)zili::lora::targeted_modules(base, config, "adapter_config.json", true);
  });
  return 0;
}
