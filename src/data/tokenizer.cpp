// The sentencepiece tokenizer of a checkpoint folder: loading (tokenizer.model plus the
// transformers JSON files beside it), encode/decode with BOS/EOS, deterministic BPE
// training, and writing the files transformers' LlamaTokenizer reads.
#include "data/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <unordered_map>

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include "data/sentencepiece_proto.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::data {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The JSON object in path, or nullopt when the file does not exist.
std::optional<json> read_json_if_present(const std::string& path) {
  if (!fs::exists(path)) return std::nullopt;
  json value;
  try {
    value = json::parse(read_file(path));
  } catch (const json::parse_error& e) {
    fail("{}: not valid JSON (byte {}); fix or delete the file", path, e.byte);
  } catch (const json::exception&) {  // out_of_range: a number beyond a double
    fail("{}: not valid JSON (a number out of range); fix or delete the file", path);
  }
  if (!value.is_object()) fail("{}: expected a JSON object at the top level", path);
  return value;
}

// A special token entry of tokenizer_config.json / special_tokens_map.json: absent (nullopt),
// null (""), a string, or an AddedToken object {"content": "<s>", ...}.
std::optional<std::string> token_string(const json& file, const std::string& key,
                                        const std::string& path) {
  if (!file.contains(key)) return std::nullopt;
  const json& entry = file.at(key);
  if (entry.is_null()) return std::string();
  if (entry.is_string()) return entry.get<std::string>();
  if (entry.is_object() && entry.contains("content") && entry.at("content").is_string())
    return entry.at("content").get<std::string>();
  fail("{}: \"{}\" must be a string, null or an object with a \"content\" string", path, key);
}

bool flag(const json& file, const std::string& key, bool fallback, const std::string& path) {
  if (!file.contains(key) || file.at(key).is_null()) return fallback;
  if (!file.at(key).is_boolean()) fail("{}: \"{}\" must be true or false", path, key);
  return file.at(key).get<bool>();
}

// The id of piece in the model, or -1 when the vocabulary has no such piece (PieceToId
// answers unk_id for unknown pieces, so that case is told apart by its text).
int64_t find_piece(const sentencepiece::SentencePieceProcessor& sp, const std::string& piece) {
  const int id = sp.PieceToId(piece);
  if (id < 0 || (sp.IsUnknown(id) && sp.IdToPiece(id) != piece)) return -1;
  return id;
}

// The model's own special id: the conventional piece when present, else the trainer's id.
int64_t model_special_id(const sentencepiece::SentencePieceProcessor& sp, const std::string& piece,
                         int trainer_id) {
  const int64_t id = find_piece(sp, piece);
  return id >= 0 ? id : trainer_id;
}

// The processor of a serialized model, or nullptr when the bytes are not one.
std::shared_ptr<sentencepiece::SentencePieceProcessor> parse_processor(const std::string& bytes) {
  auto sp = std::make_shared<sentencepiece::SentencePieceProcessor>();
  const auto status = sp->LoadFromSerializedProto(bytes);
  if (!status.ok() || sp->GetPieceSize() == 0) return nullptr;
  return sp;
}

struct Processors {
  std::shared_ptr<sentencepiece::SentencePieceProcessor> main, continuation;
  std::vector<int> types;  // per piece (PieceType), empty when unknown
};

// The model's processor, its no-dummy-prefix twin and its piece types.
Processors load_processors(const std::string& path) {
  if (!fs::is_regular_file(path))
    fail("{}: no such file (a checkpoint's tokenizer needs its sentencepiece tokenizer.model)",
         path);
  const std::string bytes = read_file(path);
  auto sp = parse_processor(bytes);
  // The library's message points into its own sources; the user needs only the verdict.
  if (!sp)
    fail(
        "{}: not a sentencepiece model (cannot be parsed, or has no pieces); replace it with "
        "the checkpoint's tokenizer.model",
        path);
  auto continuation = parse_processor(without_dummy_prefix(bytes));
  TORCH_CHECK(continuation && continuation->GetPieceSize() == sp->GetPieceSize(),
              "the no-dummy-prefix copy of ", path, " did not load");
  std::vector<int> types = piece_types(bytes);
  if (types.size() != static_cast<size_t>(sp->GetPieceSize())) types.clear();
  return {sp, continuation, std::move(types)};
}

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

Tokenizer Tokenizer::load_model_file(const std::string& path) {
  Tokenizer t;
  Processors processors = load_processors(path);
  t.processor_ = processors.main;
  t.continuation_ = processors.continuation;
  t.model_path_ = path;
  const auto& sp = *t.processor_;
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    const bool user_defined = !processors.types.empty() && processors.types[id] == kUserDefined;
    if (sp.IsControl(id) || user_defined)
      t.model_specials_.push_back({sp.IdToPiece(id), id, user_defined});
  }
  t.bos_id_ = model_special_id(sp, "<s>", sp.bos_id());
  t.eos_id_ = model_special_id(sp, "</s>", sp.eos_id());
  t.pad_id_ = sp.pad_id();
  t.find_special_pieces();
  return t;
}

Tokenizer Tokenizer::load_dir(const std::string& dir) {
  Tokenizer t = load_model_file((fs::path(dir) / "tokenizer.model").string());
  const auto& sp = *t.processor_;
  const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
  const std::string map_path = (fs::path(dir) / "special_tokens_map.json").string();
  const std::string model_config_path = (fs::path(dir) / "config.json").string();
  const auto config = read_json_if_present(config_path);
  const auto special_map = read_json_if_present(map_path);

  // transformers reads tokenizer_config.json, then lets special_tokens_map.json override it.
  auto special = [&](const std::string& key, int64_t& id) {
    std::optional<std::string> token;
    std::string source;
    if (config) {
      if ((token = token_string(*config, key, config_path))) source = config_path;
    }
    if (special_map) {
      if (auto found = token_string(*special_map, key, map_path)) token = found, source = map_path;
    }
    if (!token) return false;
    if (token->empty()) {
      id = -1;
    } else {
      id = find_piece(sp, *token);
      if (id < 0)
        fail("{}: {} \"{}\" is not a piece of {}; name a token the tokenizer.model has", source,
             key, *token, t.model_path_);
    }
    return true;
  };
  const bool bos_named = special("bos_token", t.bos_id_);
  const bool eos_named = special("eos_token", t.eos_id_);
  special("pad_token", t.pad_id_);

  // config.json ids stand in only where neither the JSON files nor the model name a token.
  if ((!bos_named && t.bos_id_ < 0) || (!eos_named && t.eos_id_ < 0)) {
    if (const auto model_config = read_json_if_present(model_config_path)) {
      auto id_from = [&](const char* key, int64_t& id) {
        const auto it = model_config->find(key);
        if (it == model_config->end()) return;
        const json& value = it->is_array() && !it->empty() ? it->front() : *it;
        if (value.is_number_integer() && value.get<int64_t>() < sp.GetPieceSize())
          id = value.get<int64_t>();
      };
      if (!bos_named && t.bos_id_ < 0) id_from("bos_token_id", t.bos_id_);
      if (!eos_named && t.eos_id_ < 0) id_from("eos_token_id", t.eos_id_);
    }
  }
  if (config) {
    t.add_bos_ = flag(*config, "add_bos_token", true, config_path);
    t.add_eos_ = flag(*config, "add_eos_token", false, config_path);
  }
  t.find_special_pieces();
  return t;
}

std::vector<int64_t> Tokenizer::encode(const std::string& text, bool add_special) const {
  std::vector<int> pieces;
  const auto status = processor_->Encode(text, &pieces);
  if (!status.ok()) fail("cannot tokenize text with {}: {}", model_path_, status.message());
  std::vector<int64_t> ids;
  ids.reserve(pieces.size() + 2);
  if (add_special && add_bos_ && bos_id_ >= 0) ids.push_back(bos_id_);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  if (add_special && add_eos_ && eos_id_ >= 0) ids.push_back(eos_id_);
  return ids;
}

std::vector<int64_t> Tokenizer::encode_continuation(const std::string& text) const {
  std::vector<int> pieces;
  const auto status = continuation_->Encode(text, &pieces);
  if (!status.ok()) fail("cannot tokenize text with {}: {}", model_path_, status.message());
  return std::vector<int64_t>(pieces.begin(), pieces.end());
}

void Tokenizer::find_special_pieces() {
  std::vector<SpecialPiece> found = model_specials_;
  for (const int64_t id : {bos_id_, eos_id_, pad_id_}) {
    const bool listed =
        std::any_of(found.begin(), found.end(), [&](const SpecialPiece& p) { return p.id == id; });
    if (id >= 0 && !listed) found.push_back({piece(id), id, false});
  }
  std::erase_if(found, [](const SpecialPiece& p) { return p.text.empty(); });
  std::stable_sort(found.begin(), found.end(), [](const SpecialPiece& a, const SpecialPiece& b) {
    return a.text.size() > b.text.size();
  });
  special_pieces_ = std::make_shared<const std::vector<SpecialPiece>>(std::move(found));
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  std::vector<int> kept;
  kept.reserve(ids.size());
  for (const int64_t id : ids) {
    if (id < 0 || id >= vocab_size())
      fail("token id {} is outside the vocabulary of {} (0..{})", id, model_path_,
           vocab_size() - 1);
    if (id == bos_id_ || id == eos_id_ || id == pad_id_) continue;
    kept.push_back(static_cast<int>(id));
  }
  std::string text;
  const auto status = processor_->Decode(kept, &text);
  if (!status.ok()) fail("cannot decode ids with {}: {}", model_path_, status.message());
  return text;
}

std::string Tokenizer::piece(int64_t id) const {
  if (id < 0 || id >= vocab_size())
    fail("token id {} is outside the vocabulary of {} (0..{})", id, model_path_, vocab_size() - 1);
  return processor_->IdToPiece(static_cast<int>(id));
}

int64_t Tokenizer::vocab_size() const {
  return processor_->GetPieceSize();
}

int64_t Tokenizer::unk_id() const {
  return processor_->unk_id();
}

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
