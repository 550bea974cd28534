// libFuzzer target: a JSONL training file, read by both of zili's readers, the SFT one (text,
// prompt/completion, messages, conversational prompt/completion) and the preference one
// (prompt/chosen/rejected, implicit prompt, conversational), with a tokenizer trained on
// data/tokenizer-corpus.txt at start-up. The first input byte picks the settings (chat
// template, a small --max-length, --drop-overlong, --on-bad-line) and the rest is the file.
// Bad lines, wrong layouts, invalid UTF-8, empty files: each must be a zili::Error.
#include "data/preference_data.h"
#include "data/sft_data.h"
#include "data/tokenizer_files.h"
#include "fuzz_common.h"

namespace {

const zili::data::Tokenizer* tokenizer = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string model = zili::fuzz::scratch_dir() + "/tokenizer.model";
  zili::data::train_tokenizer(ZILI_FUZZ_TOKENIZER_CORPUS, 512, model, {"<|im_end|>"});
  tokenizer = new zili::data::Tokenizer(zili::data::Tokenizer::load_model_file(model));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  zili::data::SftDataOptions options;
  options.chat_template = zili::fuzz::chat_template_from(data[0]);
  options.max_length = (data[0] & 8) ? 8 : 1024;
  options.drop_overlong = data[0] & 16;
  options.on_bad_line =
      (data[0] & 32) ? zili::data::BadLinePolicy::skip : zili::data::BadLinePolicy::error;
  const std::string path = zili::fuzz::write_scratch("data.jsonl", data + 1, size - 1);
  zili::fuzz::expect_clean_refusal(
      [&] { (void)zili::data::read_sft_data(path, *tokenizer, options); });
  zili::fuzz::expect_clean_refusal(
      [&] { (void)zili::data::read_preference_data(path, *tokenizer, options); });
  return 0;
}
