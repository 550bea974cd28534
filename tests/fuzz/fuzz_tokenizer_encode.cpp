// libFuzzer target: arbitrary bytes encoded by a fixed small byte-level BPE tokenizer.json
// (Llama 3's Split pattern + ByteLevel, NFC, special tokens with lstrip/rstrip), then decoded.
// Text that is not UTF-8 must be a zili::Error; valid text must encode and round-trip
// (byte-level BPE without a normalizer change loses nothing, so decode(encode(t)) == NFC(t)
// is not checked here: only that nothing crashes, hangs or throws anything else).
#include "data/tokenizer_json/tokenizer_json.h"
#include "fuzz_common.h"

namespace {

const char* kTokenizer = R"({
  "version": "1.0", "truncation": null, "padding": null,
  "added_tokens": [
    {"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true},
    {"id": 1, "content": "<m>", "single_word": true, "lstrip": true, "rstrip": true,
     "normalized": false, "special": true},
    {"id": 2, "content": "hi", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": true, "special": false}],
  "normalizer": {"type": "NFC"},
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     "behavior": "Isolated", "invert": false},
    {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}}},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
    "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": true,
    "vocab": {"<s>": 0, "<m>": 1, "hi": 2, "a": 3, "b": 4, "\u0120": 5, "ab": 6, "\u0120a": 7,
              "\u0120ab": 8, "1": 9, "2": 10, "12": 11, "\u010a": 12},
    "merges": ["a b", "\u0120 a", "\u0120a b", "1 2"]}
})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const zili::data::TokenizerJson tokenizer =
      zili::data::TokenizerJson::parse(kTokenizer, "fuzz-encode.json");
  const std::string text(reinterpret_cast<const char*>(data), size);
  zili::fuzz::expect_clean_refusal([&] {
    const std::vector<int64_t> ids = tokenizer.encode(text, size % 2 == 0);
    volatile size_t sink = tokenizer.decode(ids, size % 3 == 0).size();
    (void)sink;
  });
  return 0;
}
