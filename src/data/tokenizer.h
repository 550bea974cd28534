// The sentencepiece tokenizer of a checkpoint folder (tokenizer.model), with BOS/EOS ids
// and the add_bos_token / add_eos_token flags read as transformers reads them: from
// tokenizer_config.json, special_tokens_map.json and config.json.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace zili::data {

class Tokenizer {
 public:
  // DIR/tokenizer.model plus the JSON files beside it; zili::Error naming the file when
  // the model is missing or not a sentencepiece model.
  static Tokenizer load_dir(const std::string& dir);
  // A bare tokenizer.model file: BOS added, EOS not (the Llama default).
  static Tokenizer load_model_file(const std::string& path);

  // Ids of text; with add_special, BOS/EOS as the flags say.
  std::vector<int64_t> encode(const std::string& text, bool add_special = true) const;
  // Ids of text that continues a sequence: no BOS/EOS and no dummy leading space, so
  // decode(encode(a, false) + encode_continuation(b)) == a + b (for " b", a "▁b" piece).
  std::vector<int64_t> encode_continuation(const std::string& text) const;
  // The pieces a template may name by their text: control and user-defined symbols of the
  // model ("<s>", "</s>", "<|im_end|>" when the vocabulary has it), plus BOS/EOS/pad; longest
  // text first, so a scan that takes the first match takes the longest.
  struct SpecialPiece {
    std::string text;
    int64_t id = -1;
    bool user_defined = false;  // sentencepiece matches these inside any text it encodes
  };
  const std::vector<SpecialPiece>& special_pieces() const { return *special_pieces_; }
  std::string decode(const std::vector<int64_t>& ids) const;  // special tokens dropped
  std::string piece(int64_t id) const;

  int64_t vocab_size() const;
  int64_t unk_id() const;                     // -1 when the model has none
  int64_t bos_id() const { return bos_id_; }  // -1 when the model has none
  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  const std::string& model_path() const { return model_path_; }

 private:
  void find_special_pieces();  // once the BOS/EOS/pad ids are final

  std::shared_ptr<sentencepiece::SentencePieceProcessor> processor_;
  // The same model with NormalizerSpec.add_dummy_prefix = false, for encode_continuation.
  std::shared_ptr<sentencepiece::SentencePieceProcessor> continuation_;
  std::vector<SpecialPiece> model_specials_;  // control and user-defined pieces of the model
  std::shared_ptr<const std::vector<SpecialPiece>> special_pieces_;
  std::string model_path_;
  int64_t bos_id_ = -1, eos_id_ = -1, pad_id_ = -1;
  bool add_bos_ = true, add_eos_ = false;
};

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
