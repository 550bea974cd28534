// Tokenizer files zili makes: a sentencepiece BPE model trained on a corpus, and the JSON
// files transformers' LlamaTokenizer reads beside a tokenizer.model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace zili::data {

// Trains a Llama-style BPE sentencepiece model (byte fallback, split digits, identity
// normalisation, <unk>=0 <s>=1 </s>=2, then `user_defined_symbols` such as "<|im_end|>" as
// whole pieces) on a text file, deterministically (one thread, every sentence), and writes it
// to out_model_path atomically.
void train_tokenizer(const std::string& corpus_path, int vocab_size,
                     const std::string& out_model_path,
                     const std::vector<std::string>& user_defined_symbols = {});

// Writes tokenizer.model (copied), tokenizer_config.json and special_tokens_map.json into
// DIR, as transformers' LlamaTokenizer expects them; each file atomically. model_max_length
// is the longest input transformers will accept (the model's max_position_embeddings). The
// model's user-defined pieces ("<|im_end|>") are listed as special added tokens, and a
// non-empty chat_template_jinja is written as "chat_template".
void write_tokenizer_files(const Tokenizer& tokenizer, const std::string& dir,
                           int64_t model_max_length = 4096,
                           const std::string& chat_template_jinja = "");

}  // namespace zili::data
