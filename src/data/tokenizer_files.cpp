// The tokenizer files zili makes: a sentencepiece BPE model trained deterministically on a
// corpus, and the JSON files transformers' LlamaTokenizer reads beside a tokenizer.model.
#include "data/tokenizer_files.h"

#include <sentencepiece_trainer.h>

#include <filesystem>
#include <fstream>
#include <unordered_map>

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::data {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// One line of the corpus at a time, as sentencepiece's own file reader splits it; a
// trainer fed this way stores no input path in the model, so the file depends only on the
// corpus text.
class LineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(const std::string& path) : in_(path, std::ios::binary) { Next(); }
  bool done() const override { return done_; }
  void Next() override { done_ = !std::getline(in_, line_); }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override {
    if (in_.bad()) return {sentencepiece::util::StatusCode::kDataLoss, "read failed"};
    return {};
  }

 private:
  std::ifstream in_;
  std::string line_;
  bool done_ = false;
};

// The digits that follow marker in text ("?" when absent): the bound in a trainer message.
std::string number_after(const std::string& text, const std::string& marker) {
  const auto at = text.find(marker);
  if (at == std::string::npos) return "?";
  const auto begin = at + marker.size();
  const auto end = text.find_first_not_of("0123456789", begin);
  return end == begin ? "?" : text.substr(begin, end - begin);
}

}  // namespace

void train_tokenizer(const std::string& corpus_path, int vocab_size,
                     const std::string& out_model_path,
                     const std::vector<std::string>& user_defined_symbols) {
  if (!fs::is_regular_file(corpus_path))
    fail("{}: no such corpus file (give a plain text file, one sentence per line)", corpus_path);
  if (vocab_size < 260)
    fail("--vocab-size {} is too small: byte fallback alone needs 259 pieces (use 260 or more)",
         vocab_size);
  // The Llama recipe: BPE, bytes for anything unseen, digits one by one, text untouched.
  // Determinism: one thread, every sentence in file order (no sampling, no shuffling), and
  // no input path or model prefix stored in the model (the corpus arrives by iterator and
  // the model comes back serialized).
  std::unordered_map<std::string, std::string> args = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(vocab_size)},
      {"byte_fallback", "true"},
      {"split_digits", "true"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "true"},
      {"allow_whitespace_only_pieces", "true"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      {"num_threads", "1"},
      {"character_coverage", "1.0"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"minloglevel", "2"},  // the trainer's INFO and WARNING lines are not for our users
  };
  std::string symbols;
  for (const std::string& symbol : user_defined_symbols)
    symbols += (symbols.empty() ? "" : ",") + symbol;
  if (!symbols.empty()) args["user_defined_symbols"] = symbols;
  LineIterator lines(corpus_path);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &lines, &model);
  if (!status.ok()) {
    const std::string why = status.message();
    if (why.find("Vocabulary size too high") != std::string::npos)
      fail(
          "{}: too little text for {} pieces; use a smaller --vocab-size (at most {} here) or "
          "a larger corpus",
          corpus_path, vocab_size, number_after(why, "<= "));
    if (why.find("Vocabulary size is smaller than required_chars") != std::string::npos)
      fail(
          "{}: {} pieces cannot hold every character of the corpus; use a larger --vocab-size "
          "(at least {} here)",
          corpus_path, vocab_size, number_after(why, " vs "));
    if (why.find("sentences_.empty()") != std::string::npos)
      fail("{}: no text to train on; give a plain text file, one sentence per line", corpus_path);
    fail("{}: tokenizer training failed: {}", corpus_path, why);
  }
  write_file_atomic(out_model_path, model);
}

void write_tokenizer_files(const Tokenizer& tokenizer, const std::string& dir,
                           int64_t model_max_length, const std::string& chat_template_jinja) {
  TORCH_CHECK(!tokenizer.is_tokenizer_json(), "write_tokenizer_files: ", tokenizer.model_path(),
              " is a tokenizer.json, not a sentencepiece model");
  const std::string model_path = (fs::path(dir) / "tokenizer.model").string();
  // Read first: the source may be this very file (a tokenizer trained into DIR).
  write_file_atomic(model_path, read_file(tokenizer.model_path()));

  auto token = [&](int64_t id) { return id >= 0 ? json(tokenizer.piece(id)) : json(nullptr); };
  const int64_t unk_id = tokenizer.unk_id();
  // The special pieces as transformers saves them: not normalised, never stripped.
  std::vector<int64_t> added_ids = {unk_id, tokenizer.bos_id(), tokenizer.eos_id(),
                                    tokenizer.pad_id()};
  for (const auto& special : tokenizer.special_pieces())
    if (special.user_defined) added_ids.push_back(special.id);
  json added = json::object();
  for (const int64_t id : added_ids) {
    if (id < 0) continue;
    added[std::to_string(id)] = {{"content", tokenizer.piece(id)},
                                 {"lstrip", false},
                                 {"normalized", false},
                                 {"rstrip", false},
                                 {"single_word", false},
                                 {"special", true}};
  }
  json config = {
      {"tokenizer_class", "LlamaTokenizer"},
      {"add_bos_token", tokenizer.add_bos()},
      {"add_eos_token", tokenizer.add_eos()},
      {"added_tokens_decoder", added},
      {"bos_token", token(tokenizer.bos_id())},
      {"eos_token", token(tokenizer.eos_id())},
      {"unk_token", token(unk_id)},
      {"pad_token", token(tokenizer.pad_id())},
      {"model_max_length", model_max_length},
      {"legacy", false},
      {"clean_up_tokenization_spaces", false},
      {"sp_model_kwargs", json::object()},
  };
  if (!chat_template_jinja.empty()) config["chat_template"] = chat_template_jinja;
  json special_map = json::object();
  for (const auto& key : {"bos_token", "eos_token", "unk_token", "pad_token"})
    if (!config.at(key).is_null()) special_map[key] = config.at(key);
  write_file_atomic((fs::path(dir) / "tokenizer_config.json").string(), config.dump(2) + "\n");
  write_file_atomic((fs::path(dir) / "special_tokens_map.json").string(),
                    special_map.dump(2) + "\n");
}

}  // namespace zili::data
