// Reading a BPE "model" from tokenizer.json: vocab {token: id}; merges as "a b" strings
// (tokenizers' legacy form: exactly one space, "#version" lines skipped) or ["a", "b"] pairs,
// ranked by position; each merge's parts and result must be tokens of the vocab.
#include <fmt/format.h>

#include "data/tokenizer_json/bpe.h"
#include "data/tokenizer_json/utf8.h"
#include "util/error.h"

namespace zili::data::tj {
namespace {

void read_vocab(const json& vocab, const BpeSource& source, const Where& where, TokenIndex& index,
                std::vector<std::string>& tokens, std::vector<bool>& has_token) {
  if (!source.vocab_seen && !vocab.is_object()) where.fail("expected an object of token: id");
  std::vector<std::pair<std::string, const json*>> entries;
  if (source.vocab_seen) {
    for (size_t i = 0; i < source.vocab_tokens.size() && i < source.vocab_ids.size(); ++i)
      entries.emplace_back(source.vocab_tokens[i], &source.vocab_ids[i]);
  } else {
    for (const auto& [token, id] : vocab.items()) entries.emplace_back(token, &id);
  }
  std::vector<std::pair<std::string, int32_t>> ids;
  ids.reserve(entries.size());
  int64_t largest = -1;
  for (const auto& [token, id_json] : entries) {
    const json& id = *id_json;
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      (where / token).fail("expected a token id (an integer from 0), got " + id.dump());
    if (find_invalid_utf8(token) != npos) where.fail("a token is not valid UTF-8");
    largest = std::max(largest, id.get<int64_t>());
    ids.emplace_back(token, static_cast<int32_t>(id.get<int64_t>()));
  }
  // Ids index a table: refuse a vocabulary whose ids are mostly holes.
  if (largest >= 4 * static_cast<int64_t>(entries.size()) + 65536)
    where.fail(
        fmt::format("ids are too sparse ({} tokens, largest id {})", entries.size(), largest));
  index.build(std::move(ids));
  tokens.assign(largest + 1, std::string());
  has_token.assign(largest + 1, false);
  for (const auto& [token, id] : index.entries()) {
    if (has_token[id]) continue;
    tokens[id] = token;
    has_token[id] = true;
  }
}

// merges[i] as its two parts; false for a "#version" line.
bool merge_parts(const json& merge, const Where& where, std::string& left, std::string& right) {
  if (merge.is_string()) {
    const std::string& line = merge.get_ref<const std::string&>();
    if (line.rfind("#version", 0) == 0) return false;
    const size_t space = line.find(' ');
    if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
      where.fail("expected \"left right\" (two tokens and one space), got \"" + line + "\"");
    left = line.substr(0, space);
    right = line.substr(space + 1);
    return true;
  }
  if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
    left = merge[0].get<std::string>();
    right = merge[1].get<std::string>();
    return true;
  }
  where.fail("expected \"left right\" or [\"left\", \"right\"], got " + merge.dump());
}

}  // namespace

std::unique_ptr<BpeModel> BpeModel::parse(const json& model, const Where& where,
                                          const BpeSource& source) {
  const std::string type = member(model, "type", where) ? type_of(model, where) : "BPE";
  if (type != "BPE")
    (where / "type")
        .fail("model type " + type + " is not supported; zili reads BPE tokenizer.json files");
  auto bpe = std::unique_ptr<BpeModel>(new BpeModel());
  const json* dropout = member(model, "dropout", where);
  if (dropout && !dropout->is_null() && !(dropout->is_number() && dropout->get<double>() == 0.0))
    (where / "dropout").fail("BPE dropout is not supported (it makes encoding random); set null");
  bpe->unk_token_ = optional_string(model, "unk_token", where);
  bpe->continuing_subword_prefix_ = optional_string(model, "continuing_subword_prefix", where);
  bpe->end_of_word_suffix_ = optional_string(model, "end_of_word_suffix", where);
  bpe->fuse_unk_ = bool_member(model, "fuse_unk", false, where);
  bpe->byte_fallback_ = bool_member(model, "byte_fallback", false, where);
  bpe->ignore_merges_ = bool_member(model, "ignore_merges", false, where);
  read_vocab(required(model, "vocab", where), source, where / "vocab", bpe->vocab_,
             bpe->id_to_token_, bpe->has_token_);
  bpe->byte_ids_.assign(256, -1);
  for (int b = 0; b < 256; ++b)
    if (const auto id = bpe->token_to_id(fmt::format("<0x{:02X}>", b)))
      bpe->byte_ids_[b] = static_cast<int32_t>(*id);

  const json& merges_json = required(model, "merges", where);
  if (!source.merges_seen && !merges_json.is_array())
    (where / "merges").fail("expected a list of merges");
  const std::vector<json>& merges =
      source.merges_seen ? source.merges : merges_json.get_ref<const json::array_t&>();
  bpe->merges_.reserve(merges.size());
  const size_t prefix_length =
      bpe->continuing_subword_prefix_ ? bpe->continuing_subword_prefix_->size() : 0;
  std::string left, right, joined;
  uint32_t rank = 0;
  for (size_t i = 0; i < merges.size(); ++i) {
    const Where at = (where / "merges")[i];
    if (!merge_parts(merges[i], at, left, right)) continue;
    const auto id_of = [&](const std::string& token) {
      const int32_t id = bpe->vocab_.find(token);
      if (id < 0)
        at.fail("\"" + token + "\" is not in the vocabulary (the merge must name two tokens " +
                "of model.vocab and make a third)");
      return id;
    };
    const int32_t left_id = id_of(left), right_id = id_of(right);
    joined.assign(left).append(right, std::min(prefix_length, right.size()));
    const int32_t new_id = id_of(joined);
    bpe->merges_.insert_or_assign(left_id, right_id, Merge{rank++, new_id});
  }
  bpe->merge_count_ = rank;
  return bpe;
}

}  // namespace zili::data::tj
