// libFuzzer target: a tokenizer.json parsed as zili reads one (JSON, then every component:
// model, normalizer, pre-tokenizer with its regexes, post-processor, decoder, added tokens),
// then, when it loads, a short text encoded and decoded with it. Malformed JSON, unknown
// types, bad regexes, merges naming unknown tokens: each must be a zili::Error.
#include "data/tokenizer_json/tokenizer_json.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  zili::fuzz::expect_clean_refusal([&] {
    const zili::data::TokenizerJson tokenizer =
        zili::data::TokenizerJson::parse(text, "fuzz.json");
    const std::vector<int64_t> ids = tokenizer.encode("Hello <s> w\xC3\xB6rld  12 34!\n", true);
    volatile size_t sink = tokenizer.decode(ids, false).size() + tokenizer.describe().size();
    (void)sink;
  });
  return 0;
}
