// libFuzzer target: the Jinja engine. The input is a template: parsed, then rendered with a
// small fixed context (messages with a system, user and assistant turn, a tool list, the
// special tokens, add_generation_prompt). Syntax errors, runtime errors, raise_exception and
// the runaway limits must all be a zili::Error; anything else (a crash, a sanitizer report,
// another exception, a hang) is a finding.
#include <nlohmann/json.hpp>

#include "data/jinja/template.h"
#include "fuzz_common.h"

namespace {

const nlohmann::ordered_json& context() {
  static const nlohmann::ordered_json c = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": "H\u00e9llo \ud83d\ude00 <b>"},
      {"role": "assistant", "content": "Hi", "tool_calls": [{"type": "function",
        "function": {"name": "f", "arguments": {"x": 1.5, "y": [true, null]}}}]}
    ],
    "tools": [{"type": "function", "function": {"name": "f", "description": "d",
      "parameters": {"type": "object", "properties": {"x": {"type": "number"}}}}}],
    "documents": null,
    "add_generation_prompt": true,
    "bos_token": "<s>", "eos_token": "</s>"
  })");
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  zili::fuzz::expect_clean_refusal([&] {
    const auto t = zili::data::jinja::Template::parse(source, "fuzz.jinja");
    (void)t.render(context());
  });
  return 0;
}
