// TokenizerJson: reads the file's components and runs tokenizers' pipeline on a text:
// added tokens (raw), normalizer, added tokens (normalized), pre-tokenizer, BPE per word,
// post-processor; and decode: ids -> token strings -> decoder.
#include "data/tokenizer_json/tokenizer_json.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/tokenizer_json/added_tokens.h"
#include "data/tokenizer_json/bpe.h"
#include "data/tokenizer_json/decoders.h"
#include "data/tokenizer_json/normalizers.h"
#include "data/tokenizer_json/post_processor.h"
#include "data/tokenizer_json/pre_tokenizers.h"
#include "data/tokenizer_json/utf8.h"
#include "util/error.h"

namespace zili::data {

using tj::json;

struct TokenizerJson::Impl {
  std::string path;
  std::unique_ptr<tj::Normalizer> normalizer;
  std::unique_ptr<tj::PreTokenizer> pre_tokenizer;
  std::unique_ptr<tj::BpeModel> model;
  std::unique_ptr<tj::PostProcessor> post_processor;
  std::unique_ptr<tj::Decoder> decoder;
  tj::AddedVocabulary added;
};

namespace {

std::vector<TokenizerJson::AddedToken> read_added_tokens(const json& list, const tj::Where& where) {
  std::vector<TokenizerJson::AddedToken> tokens;
  if (list.is_null()) return tokens;
  if (!list.is_array()) where.fail("expected a list of added tokens");
  for (size_t i = 0; i < list.size(); ++i) {
    const tj::Where at = where[i];
    TokenizerJson::AddedToken token;
    token.content = tj::string_member(list[i], "content", at);
    if (tj::find_invalid_utf8(token.content) != tj::npos) (at / "content").fail("not valid UTF-8");
    token.id = tj::member(list[i], "id", at) ? tj::int_member(list[i], "id", at) : -1;
    token.special = tj::bool_member(list[i], "special", false, at);
    token.lstrip = tj::bool_member(list[i], "lstrip", false, at);
    token.rstrip = tj::bool_member(list[i], "rstrip", false, at);
    token.single_word = tj::bool_member(list[i], "single_word", false, at);
    token.normalized = tj::bool_member(list[i], "normalized", !token.special, at);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

const json& component(const json& root, const char* key, const tj::Where& where) {
  static const json null_value;
  const json* value = tj::member(root, key, where);
  return value ? *value : null_value;
}

}  // namespace

TokenizerJson::TokenizerJson(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TokenizerJson::~TokenizerJson() = default;
TokenizerJson::TokenizerJson(TokenizerJson&&) noexcept = default;
TokenizerJson& TokenizerJson::operator=(TokenizerJson&&) noexcept = default;

TokenizerJson TokenizerJson::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open the tokenizer file (does it exist?)", path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

TokenizerJson TokenizerJson::parse(const std::string& json_text, const std::string& path) {
  // model.vocab and model.merges go straight into `source` instead of the tree.
  tj::BpeSource source;
  std::string top_key, model_key;
  const auto take_model_tables = [&](int depth, json::parse_event_t event, json& parsed) {
    using Event = json::parse_event_t;
    if (event == Event::key) {
      if (depth == 1)
        top_key = parsed.get<std::string>(), model_key.clear();
      else if (depth == 2 && top_key == "model")
        model_key = parsed.get<std::string>();
      else if (depth == 3 && top_key == "model" && model_key == "vocab" && source.vocab_seen) {
        source.vocab_tokens.push_back(parsed.get<std::string>());
        return false;
      }
      return true;
    }
    if (top_key != "model") return true;
    if (depth == 2 && event == Event::object_start && model_key == "vocab")
      source.vocab_seen = true;
    if (depth == 2 && event == Event::array_start && model_key == "merges")
      source.merges_seen = true;
    const bool whole =
        event == Event::value || event == Event::object_end || event == Event::array_end;
    if (depth == 3 && whole && model_key == "vocab" && source.vocab_seen) {
      source.vocab_ids.push_back(std::move(parsed));
      return false;
    }
    if (depth == 3 && whole && model_key == "merges" && source.merges_seen) {
      source.merges.push_back(std::move(parsed));
      return false;
    }
    return true;
  };
  json root;
  try {
    root = json::parse(json_text, take_model_tables);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON ({}); a tokenizer.json is written by Hugging Face tokenizers", path,
         e.what());
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  const tj::Where top{&impl->path, ""};
  if (!root.is_object()) top.fail("expected a JSON object (a tokenizer.json)");
  impl->normalizer = tj::parse_normalizer(component(root, "normalizer", top), top / "normalizer");
  impl->pre_tokenizer =
      tj::parse_pre_tokenizer(component(root, "pre_tokenizer", top), top / "pre_tokenizer");
  impl->model = tj::BpeModel::parse(tj::required(root, "model", top), top / "model", source);
  impl->post_processor =
      tj::parse_post_processor(component(root, "post_processor", top), top / "post_processor");
  impl->decoder = tj::parse_decoder(component(root, "decoder", top), top / "decoder");
  impl->added.build(read_added_tokens(component(root, "added_tokens", top), top / "added_tokens"),
                    *impl->model, impl->normalizer.get());
  return TokenizerJson(std::move(impl));
}

std::vector<int64_t> TokenizerJson::encode(const std::string& text, bool add_special_tokens) const {
  const size_t bad = tj::find_invalid_utf8(text);
  if (bad != tj::npos)
    fail("the text is not valid UTF-8: byte 0x{:02X} at byte offset {} (tokenizer {})",
         static_cast<unsigned char>(text[bad]), bad, impl_->path);
  std::vector<tj::Piece> pieces;
  if (!text.empty()) pieces.push_back(tj::Piece{text, true, -1});
  impl_->added.extract_and_normalize(pieces, impl_->normalizer.get());
  if (impl_->pre_tokenizer) impl_->pre_tokenizer->pre_tokenize(pieces);
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 4);
  for (const tj::Piece& piece : pieces) {
    if (piece.token_id >= 0)
      ids.push_back(piece.token_id);
    else
      impl_->model->tokenize(piece.text, ids);
  }
  if (add_special_tokens && impl_->post_processor)
    ids = impl_->post_processor->process(std::move(ids));
  return ids;
}

std::string TokenizerJson::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int64_t id : ids) {
    const std::string* token = impl_->added.id_to_token(id);
    if (!token) token = impl_->model->id_to_token(id);
    if (!token) continue;  // an id with no token is skipped, as tokenizers does
    if (skip_special_tokens && impl_->added.is_special(*token)) continue;
    tokens.push_back(*token);
  }
  std::string out;
  if (impl_->decoder) {
    impl_->decoder->decode_chain(tokens);
    for (const std::string& token : tokens) out += token;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
  }
  return out;
}

int64_t TokenizerJson::vocab_size() const {
  return std::max(impl_->model->max_id(), impl_->added.max_id()) + 1;
}

std::optional<int64_t> TokenizerJson::token_to_id(const std::string& token) const {
  if (const auto id = impl_->added.token_to_id(token)) return id;
  return impl_->model->token_to_id(token);
}

std::string TokenizerJson::id_to_token(int64_t id) const {
  const std::string* token = impl_->added.id_to_token(id);
  if (!token) token = impl_->model->id_to_token(id);
  return token ? *token : std::string();
}

const std::vector<TokenizerJson::AddedToken>& TokenizerJson::added_tokens() const {
  return impl_->added.tokens();
}

std::string TokenizerJson::describe() const {
  std::string out = fmt::format("{} (vocab size {})", impl_->model->describe(), vocab_size());
  if (impl_->pre_tokenizer) out += ", pre-tokenizer " + impl_->pre_tokenizer->describe();
  if (impl_->normalizer) out += ", normalizer " + impl_->normalizer->describe();
  if (impl_->decoder) out += ", decoder " + impl_->decoder->describe();
  return out;
}

const std::string& TokenizerJson::path() const {
  return impl_->path;
}

}  // namespace zili::data
