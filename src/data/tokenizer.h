// The tokenizer of a checkpoint folder, as transformers' AutoTokenizer picks it: tokenizer.json
// (Hugging Face tokenizers: byte-level BPE and the rest, src/data/tokenizer_json) where the
// folder has one, else the sentencepiece tokenizer.model; with BOS/EOS/pad ids, the
// add_bos_token / add_eos_token flags and the ids that stop generation, read as transformers
// reads them: tokenizer_config.json, special_tokens_map.json, generation_config.json and
// config.json (special_tokens.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace zili::data {

class TokenizerJson;

class Tokenizer {
 public:
  // DIR/tokenizer.json, else DIR/tokenizer.model, plus the JSON files beside it; zili::Error
  // naming the file when neither is there or the one found cannot be read.
  static Tokenizer load_dir(const std::string& dir);
  // A bare tokenizer.model file: BOS added, EOS not (the Llama default).
  static Tokenizer load_model_file(const std::string& path);
  // A bare tokenizer.json (a name ending in .json, or a file that starts with "{") or
  // tokenizer.model file. A tokenizer.json alone has no bos/eos names: the ids are those its
  // post-processor adds.
  static Tokenizer load_file(const std::string& path);

  // Ids of text; with add_special, BOS/EOS as the flags say (a tokenizer.json: as its
  // post-processor says, which is what the flags report).
  std::vector<int64_t> encode(const std::string& text, bool add_special = true) const;
  // Ids of a string a chat template rendered, as transformers' apply_chat_template(
  // tokenize=True) and TRL encode it: no specials added (the template writes its own BOS),
  // special-token strings in it ("<|eot_id|>", "</s>") become their ids. A tokenizer.json
  // does that itself; a sentencepiece model is cut at its control and user-defined pieces.
  std::vector<int64_t> encode_rendered(const std::string& text) const;
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
  // Special tokens dropped, unless skip_special is false and the tokenizer is a tokenizer.json
  // (tokenizers' decode(ids, skip_special_tokens)); a sentencepiece model always drops them.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = true) const;
  std::string piece(int64_t id) const;

  int64_t vocab_size() const;
  int64_t unk_id() const { return unk_id_; }  // -1 when the model has none
  int64_t bos_id() const { return bos_id_; }  // -1 when the model has none
  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  // The ids that end a generated reply: EOS, and every id of generation_config.json's
  // eos_token_id (which may be a list: Llama 3 stops at <|eot_id|> and <|end_of_text|>).
  const std::vector<int64_t>& stop_ids() const { return stop_ids_; }
  // The special tokens' text as a chat template names them ("" when there is none).
  std::string token_text(int64_t id) const { return id >= 0 ? piece(id) : std::string(); }
  // The file the ids come from (tokenizer.json or tokenizer.model).
  const std::string& model_path() const { return model_path_; }
  bool is_tokenizer_json() const { return json_ != nullptr; }
  // One line for `zili inspect`: the file, its kind and its vocabulary.
  std::string describe() const;

 private:
  void find_special_pieces();  // once the BOS/EOS/pad ids are final
  void find_json_flags();      // add_bos_/add_eos_ of a tokenizer.json, from its post-processor

  std::shared_ptr<const TokenizerJson> json_;  // a tokenizer.json, or null: sentencepiece
  std::shared_ptr<sentencepiece::SentencePieceProcessor> processor_;
  // The same model with NormalizerSpec.add_dummy_prefix = false, for encode_continuation.
  std::shared_ptr<sentencepiece::SentencePieceProcessor> continuation_;
  std::vector<SpecialPiece> model_specials_;  // control and user-defined pieces of the model
  std::shared_ptr<const std::vector<SpecialPiece>> special_pieces_;
  std::string model_path_;
  int64_t bos_id_ = -1, eos_id_ = -1, pad_id_ = -1, unk_id_ = -1;
  std::vector<int64_t> stop_ids_;
  bool add_bos_ = true, add_eos_ = false;
};

}  // namespace zili::data
