// The tokenizer of a checkpoint folder, either kind: loading (tokenizer.json, else
// tokenizer.model, plus the transformers JSON files beside it), encode/decode with BOS/EOS,
// and what a chat template and generation need of its special tokens.
#include "data/tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include "data/sentencepiece_proto.h"
#include "data/special_tokens.h"
#include "data/tokenizer_json/tokenizer_json.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::data {

namespace fs = std::filesystem;

namespace {

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
  t.unk_id_ = sp.unk_id();
  if (t.eos_id_ >= 0) t.stop_ids_ = {t.eos_id_};
  t.find_special_pieces();
  return t;
}

namespace {

// A tokenizer.json on its own: every added token is a piece a template may name; BOS and EOS
// are what its post-processor adds around a text (Llama 3's TemplateProcessing adds
// <|begin_of_text|>), until the JSON files beside it name them.
Tokenizer::SpecialPiece added_piece(const TokenizerJson::AddedToken& token) {
  return {token.content, token.id, false};
}

}  // namespace

namespace {

// A tokenizer.json by its extension, or by content (a JSON object) whatever its name.
bool is_tokenizer_json_file(const std::string& path) {
  if (fs::path(path).extension() == ".json") return true;
  std::ifstream in(path, std::ios::binary);
  char c = 0;
  while (in.get(c) && (c == ' ' || c == '\n' || c == '\r' || c == '\t')) {
  }
  return in && c == '{';
}

}  // namespace

Tokenizer Tokenizer::load_file(const std::string& path) {
  if (!is_tokenizer_json_file(path)) return load_model_file(path);
  Tokenizer t;
  t.json_ = std::make_shared<const TokenizerJson>(TokenizerJson::load(path));
  t.model_path_ = path;
  for (const auto& token : t.json_->added_tokens())
    if (token.special) t.model_specials_.push_back(added_piece(token));
  const std::vector<int64_t> bare = t.json_->encode("", false);
  const std::vector<int64_t> wrapped = t.json_->encode("", true);
  // What the post-processor adds around an empty text: [BOS] ... [EOS] in its template.
  if (wrapped.size() > bare.size()) {
    t.bos_id_ = wrapped.front();
    if (wrapped.size() > bare.size() + 1) t.eos_id_ = wrapped.back();
  }
  t.find_json_flags();
  if (t.eos_id_ >= 0) t.stop_ids_ = {t.eos_id_};
  t.find_special_pieces();
  return t;
}

void Tokenizer::find_json_flags() {
  // The flags report what encode(text, true) does; a tokenizer.json decides it itself.
  const std::vector<int64_t> ids = json_->encode("a", true);
  add_bos_ = bos_id_ >= 0 && !ids.empty() && ids.front() == bos_id_;
  add_eos_ = eos_id_ >= 0 && !ids.empty() && ids.back() == eos_id_;
}

Tokenizer Tokenizer::load_dir(const std::string& dir) {
  const std::string json_path = (fs::path(dir) / "tokenizer.json").string();
  const std::string model_path = (fs::path(dir) / "tokenizer.model").string();
  // transformers' AutoTokenizer prefers the fast tokenizer's file where both are there.
  if (!fs::exists(json_path) && !fs::exists(model_path))
    fail(
        "{}: no tokenizer.json or tokenizer.model (a checkpoint's tokenizer is one of these; "
        "copy it from the model's repository)",
        dir);
  Tokenizer t = fs::exists(json_path) ? load_file(json_path) : load_model_file(model_path);
  const auto token_id = [&](const std::string& token) -> int64_t {
    if (t.json_) return t.json_->token_to_id(token).value_or(-1);
    return find_piece(*t.processor_, token);
  };
  const SpecialTokens named = read_special_tokens(dir, token_id, t.model_path_, t.vocab_size());
  if (named.bos) t.bos_id_ = *named.bos;
  if (named.eos) t.eos_id_ = *named.eos;
  if (named.pad) t.pad_id_ = *named.pad;
  if (named.unk) t.unk_id_ = *named.unk;
  // config.json ids stand in only where neither the JSON files nor the model name a token.
  if (!named.bos && t.bos_id_ < 0 && named.config_bos) t.bos_id_ = *named.config_bos;
  if (!named.eos && t.eos_id_ < 0 && named.config_eos) t.eos_id_ = *named.config_eos;
  if (t.json_) {
    t.find_json_flags();
  } else {
    t.add_bos_ = named.add_bos.value_or(true);
    t.add_eos_ = named.add_eos.value_or(false);
  }
  t.stop_ids_.clear();
  if (t.eos_id_ >= 0) t.stop_ids_.push_back(t.eos_id_);
  for (const int64_t id : named.generation_eos)
    if (std::find(t.stop_ids_.begin(), t.stop_ids_.end(), id) == t.stop_ids_.end())
      t.stop_ids_.push_back(id);
  t.find_special_pieces();
  return t;
}

std::vector<int64_t> Tokenizer::encode(const std::string& text, bool add_special) const {
  if (json_) return json_->encode(text, add_special);
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

std::vector<int64_t> Tokenizer::encode_rendered(const std::string& text) const {
  if (json_) return json_->encode(text, false);
  // The text between special pieces is encoded as one sentencepiece run each, the first with
  // the dummy prefix, as transformers' LlamaTokenizer (legacy=False) splits on added tokens.
  std::vector<int64_t> ids;
  std::string run;
  bool first = true;
  auto flush = [&] {
    if (run.empty()) return;
    const std::vector<int64_t> part = first ? encode(run, false) : encode_continuation(run);
    ids.insert(ids.end(), part.begin(), part.end());
    run.clear();
  };
  for (size_t at = 0; at < text.size();) {
    const auto& specials = special_pieces();
    const auto match = std::find_if(specials.begin(), specials.end(), [&](const auto& special) {
      return text.compare(at, special.text.size(), special.text) == 0;
    });
    if (match == specials.end()) {
      run += text[at++];
      continue;
    }
    flush();
    ids.push_back(match->id);
    first = false;
    at += match->text.size();
  }
  flush();
  return ids;
}

std::vector<int64_t> Tokenizer::encode_continuation(const std::string& text) const {
  if (json_) return json_->encode(text, false);
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

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  for (const int64_t id : ids)
    if (id < 0 || id >= vocab_size())
      fail("token id {} is outside the vocabulary of {} (0..{})", id, model_path_,
           vocab_size() - 1);
  if (json_) return json_->decode(ids, skip_special);
  std::vector<int> kept;
  kept.reserve(ids.size());
  for (const int64_t id : ids) {
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
  if (json_) return json_->id_to_token(id);
  return processor_->IdToPiece(static_cast<int>(id));
}

int64_t Tokenizer::vocab_size() const {
  return json_ ? json_->vocab_size() : processor_->GetPieceSize();
}

std::string Tokenizer::describe() const {
  if (json_) return fmt::format("{} (tokenizer.json: {})", model_path_, json_->describe());
  return fmt::format("{} (sentencepiece tokenizer.model, {} pieces)", model_path_, vocab_size());
}

}  // namespace zili::data
