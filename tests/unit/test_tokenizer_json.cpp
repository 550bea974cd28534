// The tokenizer.json reader, component by component, on small hand-written files whose ids
// are worked out by hand (the peer test holds the whole against Hugging Face tokenizers), and
// every error a user can cause: malformed JSON, unsupported types, bad regexes, merges naming
// unknown tokens, invalid UTF-8 text.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/tokenizer_json/pieces.h"
#include "data/tokenizer_json/regex.h"
#include "data/tokenizer_json/tokenizer_json.h"
#include "data/tokenizer_json/utf8.h"
#include "util/error.h"

using nlohmann::json;
using zili::data::TokenizerJson;
namespace tj = zili::data::tj;
using Ids = std::vector<int64_t>;

namespace {

// A tokenizer.json with a BPE model over `vocab` and `merges`, every other component null.
json make_file(const json& vocab, const json& merges) {
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder", nullptr},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", merges}}}};
}

TokenizerJson load(const json& file) {
  return TokenizerJson::parse(file.dump(), "t.json");
}

json abc_vocab() {
  return {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}};
}

// The texts of the pieces a Split on `pattern` keeps of `text`.
std::vector<std::string> split(const std::string& text, const tj::Regex& pattern,
                               tj::SplitBehavior behavior, bool invert = false) {
  std::vector<tj::Span> spans, kept;
  pattern.find_matches(text, spans);
  if (invert)
    for (auto& span : spans) span.is_match = !span.is_match;
  tj::apply_split_behavior(spans, behavior, kept);
  std::vector<std::string> out;
  for (const auto& span : kept) out.push_back(text.substr(span.start, span.end - span.start));
  return out;
}

}  // namespace

TEST_CASE("BPE merges by rank, from either form of merges") {
  // "abc": (b c) has rank 0, so b+c first; no merge joins a and bc.
  CHECK(load(make_file(abc_vocab(), {"b c", "a b"})).encode("abc", false) == Ids{0, 4});
  // (a b) first, then (ab c).
  CHECK(load(make_file(abc_vocab(), {"a b", "ab c"})).encode("abc", false) == Ids{5});
  CHECK(
      load(make_file(abc_vocab(), json::array({json::array({"a", "b"}), json::array({"ab", "c"})})))
          .encode("abcab", false) == Ids{5, 3});
  // "#version" lines are skipped and do not take a rank.
  CHECK(load(make_file(abc_vocab(), {"#version: 0.2", "b c", "a b"})).encode("abc", false) ==
        Ids{0, 4});
}

TEST_CASE("BPE ignore_merges takes a whole word that is in the vocab") {
  json file = make_file(abc_vocab(), json::array());
  CHECK(load(file).encode("abc", false) == Ids{0, 1, 2});
  file["model"]["ignore_merges"] = true;
  CHECK(load(file).encode("abc", false) == Ids{5});
}

TEST_CASE("BPE byte fallback, unk and fusing") {
  json file = make_file({{"<unk>", 0}, {"a", 1}, {"<0xC3>", 2}, {"<0xA9>", 3}}, json::array());
  file["model"]["unk_token"] = "<unk>";
  CHECK(load(file).encode("xxa", false) == Ids{0, 0, 1});
  file["model"]["fuse_unk"] = true;
  CHECK(load(file).encode("xxa", false) == Ids{0, 1});
  file["model"]["byte_fallback"] = true;
  CHECK(load(file).encode("a\xC3\xA9", false) == Ids{1, 2, 3});  // "aé": é is C3 A9
  file["decoder"] = {{"type", "Sequence"},
                     {"decoders", {{{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}};
  CHECK(load(file).decode({1, 2, 3}, false) == "a\xC3\xA9");
  CHECK(load(file).decode({1, 2}, false) == "a\xEF\xBF\xBD");  // a lone C3: one U+FFFD
  // Without an unk token an unknown character is dropped.
  file["model"]["unk_token"] = nullptr;
  CHECK(load(file).encode("xa", false) == Ids{1});
}

TEST_CASE("BPE continuing_subword_prefix names the merged token without the prefix") {
  json file = make_file({{"a", 0}, {"##b", 1}, {"ab", 2}, {"b", 3}}, {"a ##b"});
  file["model"]["continuing_subword_prefix"] = "##";
  CHECK(load(file).encode("ab", false) == Ids{2});
  CHECK(load(file).encode("ba", false) == Ids{3});  // "##a" is not a token: dropped
}

TEST_CASE("Split behaviours on a-b--c") {
  const tj::Regex dash = tj::Regex::literal("-", "test");
  using B = tj::SplitBehavior;
  using S = std::vector<std::string>;
  CHECK(split("a-b--c", dash, B::removed) == S{"a", "b", "c"});
  CHECK(split("a-b--c", dash, B::isolated) == S{"a", "-", "b", "-", "-", "c"});
  CHECK(split("a-b--c", dash, B::merged_with_previous) == S{"a-", "b-", "-", "c"});
  CHECK(split("a-b--c", dash, B::merged_with_next) == S{"a", "-b", "-", "-c"});
  CHECK(split("a-b--c", dash, B::contiguous) == S{"a", "-", "b", "--", "c"});
  CHECK(split("a-b--c", dash, B::removed, true) == S{"-", "-", "-"});
}

TEST_CASE("Regex matches as the onig crate iterates, Llama 3's pattern included") {
  std::vector<tj::Span> matches;
  tj::Regex("x*", "test").find_all("axb", matches);
  REQUIRE(matches.size() == 3);  // empty at 0, "x", empty at the end
  CHECK((matches[0].start == 0 && matches[0].end == 0));
  CHECK((matches[1].start == 1 && matches[1].end == 2));
  CHECK((matches[2].start == 3 && matches[2].end == 3));
  const tj::Regex llama3(R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|)"
                         R"( ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
                         "test");
  using S = std::vector<std::string>;
  CHECK(split("I'LL WE'VE 12345", llama3, tj::SplitBehavior::isolated) ==
        S{"I", "'LL", " WE", "'VE", " ", "123", "45"});
  CHECK(split("a  b\n\nc", llama3, tj::SplitBehavior::isolated) == S{"a", " ", " b", "\n\n", "c"});
}

TEST_CASE("ByteLevel pre-tokenizer and decoder") {
  json vocab = json::object();
  const std::vector<std::string> tokens = {"\xC4\xA0", "H", "e", "l", "o", "w", "r", "d", "!"};
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;  // Ġ is byte 0x20
  vocab["\xC4\xA0H"] = 9;
  json file = make_file(vocab, {"\xC4\xA0 H"});
  file["pre_tokenizer"] = {{"type", "ByteLevel"},
                           {"add_prefix_space", true},
                           {"trim_offsets", true},
                           {"use_regex", true}};
  file["decoder"] = {{"type", "ByteLevel"}};
  // " Hello" (prefix space added) then "!": ĠH e l l o !
  const Ids ids = load(file).encode("Hello!", false);
  CHECK(ids == Ids{9, 2, 3, 3, 4, 8});
  CHECK(load(file).decode(ids, false) == " Hello!");
  // Byte 0xFF alone is not UTF-8: the decoder puts U+FFFD (0xFF's character is U+00FF).
  file["model"]["vocab"]["\xC3\xBF"] = 10;
  CHECK(load(file).decode({1, 10}, false) == "H\xEF\xBF\xBD");
}

TEST_CASE("Metaspace splits before each replacement and prepends as its scheme says") {
  json file = make_file({{"\xE2\x96\x81", 0},
                         {"a", 1},
                         {"b", 2},
                         {"\xE2\x96\x81"
                          "a",
                          3}},
                        {"\xE2\x96\x81 a"});
  file["pre_tokenizer"] = {{"type", "Metaspace"},
                           {"replacement", "\xE2\x96\x81"},
                           {"prepend_scheme", "always"},
                           {"split", true}};
  file["decoder"] = {{"type", "Metaspace"},
                     {"replacement", "\xE2\x96\x81"},
                     {"prepend_scheme", "always"},
                     {"split", true}};
  CHECK(load(file).encode("a  b", false) == Ids{3, 0, 0, 2});  // ▁a ▁ ▁b
  CHECK(load(file).decode({3, 0, 0, 2}, false) == "a  b");
  file["pre_tokenizer"]["prepend_scheme"] = "never";
  CHECK(load(file).encode("a b", false) == Ids{1, 0, 2});
}

TEST_CASE("Normalizers") {
  json file = make_file({{"x", 0}}, json::array());
  const auto normalized = [&](const json& normalizer, const std::string& text) {
    file["normalizer"] = normalizer;
    file["pre_tokenizer"] = nullptr;
    // Each character a token of its own: the ids spell the normalized text back.
    json vocab = json::object();
    int next = 0;
    for (const std::string piece :
         {"\xC3\xA9", "e", "\xCC\x81", "f", "i", "\xCC\x87", "a", " ", "b", "\xE2\x96\x81", "A"})
      vocab[piece] = next++;
    file["model"]["vocab"] = vocab;
    file["decoder"] = {{"type", "Fuse"}};
    const TokenizerJson tokenizer = load(file);
    return tokenizer.decode(tokenizer.encode(text, false), false);
  };
  CHECK(normalized({{"type", "NFC"}}, "e\xCC\x81") == "\xC3\xA9");
  CHECK(normalized({{"type", "NFD"}}, "\xC3\xA9") == "e\xCC\x81");
  CHECK(normalized({{"type", "NFKC"}}, "\xEF\xAC\x81") == "fi");  // the ﬁ ligature
  CHECK(normalized({{"type", "Lowercase"}},
                   "\xC4\xB0"
                   "A") ==
        "i\xCC\x87"
        "a");  // İA
  CHECK(normalized({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}},
                   " \t a b \n") == "a b");
  CHECK(
      normalized(
          {{"type", "Sequence"},
           {"normalizers",
            {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
             {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}},
          "a b") ==
      "\xE2\x96\x81"
      "a"
      "\xE2\x96\x81"
      "b");
  CHECK(normalized({{"type", "Replace"}, {"pattern", {{"Regex", "[ab]+"}}}, {"content", "e"}},
                   "aab ba") == "e e");
}

TEST_CASE("Added tokens: raw matching, lstrip, rstrip, single_word, ids, specials") {
  json file = make_file({{"a", 0}, {"b", 1}, {" ", 2}, {"x", 3}}, json::array());
  const auto token = [](const std::string& content, int id, bool special) {
    return json{{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
                {"rstrip", false}, {"normalized", false}, {"special", special}};
  };
  file["added_tokens"] = {token("<m>", 500, true), token("<w>", 501, false),
                          token("<r>", 502, true)};
  file["added_tokens"][0]["lstrip"] = true;
  file["added_tokens"][1]["single_word"] = true;
  file["added_tokens"][2]["rstrip"] = true;
  const TokenizerJson tokenizer = load(file);
  // Ids as tokenizers assigns them: after the model's 4 tokens, whatever the file says.
  CHECK(tokenizer.token_to_id("<m>") == 4);
  CHECK(tokenizer.token_to_id("<w>") == 5);
  CHECK(tokenizer.vocab_size() == 7);
  CHECK(tokenizer.encode("a <m> b", false) == Ids{0, 4, 2, 1});   // lstrip takes " "
  CHECK(tokenizer.encode("a <r>  b", false) == Ids{0, 2, 6, 1});  // rstrip takes "  "
  CHECK(tokenizer.encode("x<w> <w>", false) == Ids{3, 2, 5});  // x<w>: not a word; <, w, > dropped
  CHECK(tokenizer.encode("<w> x", false) == Ids{5, 2, 3});
  CHECK(tokenizer.decode({0, 4, 1}, false) == "a <m> b");  // no decoder: joined with spaces
  CHECK(tokenizer.decode({0, 4, 1}, true) == "a b");
  CHECK(tokenizer.decode({0, 99, 1}, false) == "a b");  // an unknown id is skipped
}

TEST_CASE("TemplateProcessing adds its specials only with add_special_tokens") {
  json file = make_file({{"<s>", 0}, {"a", 1}}, json::array());
  file["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"pair", json::array()},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {0}}, {"tokens", {"<s>"}}}}}}};
  CHECK(load(file).encode("aa", true) == Ids{0, 1, 1});
  CHECK(load(file).encode("aa", false) == Ids{1, 1});
  CHECK(load(file).encode("", true) == Ids{0});
}

TEST_CASE("UTF-8: Rust's lossy repair and where invalid text goes wrong") {
  CHECK(tj::from_utf8_lossy("a\xE2\x82"
                            "b") ==
        "a\xEF\xBF\xBD"
        "b");  // one maximal subpart
  CHECK(tj::from_utf8_lossy("\xC0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(tj::find_invalid_utf8("abc\xED\xA0\x80") == 3);  // a surrogate
  CHECK(tj::find_invalid_utf8("h\xC3\xA9llo") == tj::npos);
  const TokenizerJson tokenizer = load(make_file(abc_vocab(), json::array()));
  REQUIRE_THROWS_WITH(tokenizer.encode("ab\xFF", false),
                      Catch::Contains("not valid UTF-8: byte 0xFF at byte offset 2"));
}

TEST_CASE("Errors name the file and the place") {
  using Catch::Contains;
  REQUIRE_THROWS_AS(TokenizerJson::parse("{not json", "t.json"), zili::Error);
  REQUIRE_THROWS_WITH(TokenizerJson::parse("{not json", "t.json"),
                      Contains("t.json: not valid JSON"));
  REQUIRE_THROWS_WITH(TokenizerJson::load("/nonexistent/tokenizer.json"), Contains("cannot open"));
  json file = make_file(abc_vocab(), {"a b"});
  for (const std::string type : {"WordPiece", "Unigram", "WordLevel"}) {
    file["model"]["type"] = type;
    REQUIRE_THROWS_WITH(load(file), Contains("model.type: model type " + type +
                                             " is not supported; zili reads BPE"));
  }
  file = make_file(abc_vocab(), {"a z"});
  REQUIRE_THROWS_WITH(load(file), Contains("model.merges[0]: \"z\" is not in the vocabulary"));
  file = make_file(abc_vocab(), {"a b c"});
  REQUIRE_THROWS_WITH(load(file), Contains("model.merges[0]: expected \"left right\""));
  file = make_file(abc_vocab(), {"a b"});
  file["model"]["dropout"] = 0.1;
  REQUIRE_THROWS_WITH(load(file), Contains("model.dropout: BPE dropout is not supported"));
  file = make_file(abc_vocab(), {"a b"});
  file["normalizer"] = {{"type", "BertNormalizer"}};
  REQUIRE_THROWS_WITH(load(file), Contains("normalizer.type: BertNormalizer is not supported"));
  file["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "Precompiled"}}}}};
  REQUIRE_THROWS_WITH(load(file),
                      Contains("normalizer.normalizers[0].type: Precompiled is not supported"));
  file["normalizer"] = nullptr;
  file["pre_tokenizer"] = {{"type", "Sequence"},
                           {"pretokenizers",
                            {{{"type", "Split"},
                              {"pattern", {{"Regex", "(a"}}},
                              {"behavior", "Isolated"},
                              {"invert", false}}}}};
  REQUIRE_THROWS_WITH(load(file), Contains("pre_tokenizer.pretokenizers[0].pattern: \"(a\" is "
                                           "not a valid regex"));
  file["pre_tokenizer"] = {{"type", "Split"},
                           {"pattern", {{"String", "-"}}},
                           {"behavior", "Sideways"},
                           {"invert", false}};
  REQUIRE_THROWS_WITH(load(file), Contains("pre_tokenizer.behavior: expected one of Removed"));
  file["pre_tokenizer"] = nullptr;
  file["decoder"] = {{"type", "WordPiece"}};
  REQUIRE_THROWS_WITH(load(file), Contains("decoder.type: WordPiece is not supported"));
  file["decoder"] = nullptr;
  file.erase("model");
  REQUIRE_THROWS_WITH(load(file), Contains("model: missing"));
}
