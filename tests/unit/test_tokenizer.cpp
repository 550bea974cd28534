// The tokenizer: deterministic BPE training on the shipped corpus, encode/decode round
// trips (byte fallback for text the corpus never had), BOS/EOS from the JSON files beside
// tokenizer.model, the files written for transformers, and each error a user can cause.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/tokenizer_files.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;
using zili::data::Tokenizer;

namespace {

const std::string kCorpus = std::string(ZILI_SOURCE_DIR) + "/data/tokenizer-corpus.txt";

// A fresh folder under the system temp folder, removed with everything in it at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("zili-test-tokenizer-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// One 512-piece model shared by the tests (training takes a fraction of a second, but once
// is enough).
const std::string& trained_model() {
  static TempDir dir;
  static const std::string path = dir / "tokenizer.model";
  if (!fs::exists(path)) zili::data::train_tokenizer(kCorpus, 512, path);
  return path;
}

// A checkpoint-like folder: the trained tokenizer.model plus the given JSON files.
void make_dir(const TempDir& dir, const std::vector<std::pair<std::string, std::string>>& files) {
  fs::copy_file(trained_model(), dir / "tokenizer.model", fs::copy_options::overwrite_existing);
  for (const auto& [name, content] : files) zili::write_file_atomic(dir / name, content);
}

}  // namespace

TEST_CASE("training twice on the same corpus gives byte-identical models") {
  TempDir dir;
  zili::data::train_tokenizer(kCorpus, 512, dir / "a.model");
  zili::data::train_tokenizer(kCorpus, 512, dir / "b.model");
  const std::string a = zili::read_file(dir / "a.model");
  CHECK(a == zili::read_file(dir / "b.model"));
  CHECK(a == zili::read_file(trained_model()));
  // Nothing but the two models is left in the folder (no temporary files, no .vocab).
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 2);
}

TEST_CASE("a trained model has the Llama layout") {
  const Tokenizer t = Tokenizer::load_model_file(trained_model());
  CHECK(t.vocab_size() == 512);
  CHECK(t.unk_id() == 0);
  CHECK(t.bos_id() == 1);
  CHECK(t.eos_id() == 2);
  CHECK(t.pad_id() == -1);
  CHECK(t.piece(0) == "<unk>");
  CHECK(t.piece(1) == "<s>");
  CHECK(t.piece(2) == "</s>");
  CHECK(t.piece(3) == "<0x00>");  // byte fallback pieces follow the specials
  CHECK(t.add_bos());
  CHECK_FALSE(t.add_eos());
  // Digits are split one by one.
  const auto ids = t.encode("12345", false);
  std::vector<std::string> pieces;
  for (const auto id : ids) pieces.push_back(t.piece(id));
  CHECK(pieces == std::vector<std::string>{"\xe2\x96\x81", "1", "2", "3", "4", "5"});
}

TEST_CASE("encode and decode round trip, unicode through byte fallback") {
  const Tokenizer t = Tokenizer::load_model_file(trained_model());
  const std::vector<std::string> texts = {
      "The cat sat on the mat.",
      "What is 12 times 3? It is 36.",
      "  two leading spaces, and   three inside  ",
      "tabs\tand\nnewlines\r\n",
      "caf\xc3\xa9 na\xc3\xafve \xc3\xbc\xc3\x9f",                        // café naïve üß
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",                             // 日本語
      "emoji \xf0\x9f\x99\x82 \xf0\x9f\x90\x88\xe2\x80\x8d\xe2\xac\x9b",  // 🙂 and a ZWJ sequence
      "3.14159 and 1,000,000",
      "",
  };
  for (const auto& text : texts) {
    INFO("text: " << text);
    const auto ids = t.encode(text);
    REQUIRE(!ids.empty());
    CHECK(ids.front() == t.bos_id());
    CHECK(t.decode(ids) == text);
    CHECK(t.decode(t.encode(text, false)) == text);
  }
  CHECK(t.encode("", false).empty());
  CHECK(t.encode("") == std::vector<int64_t>{1});
  // A character the corpus never had becomes its UTF-8 bytes: 🙂 = F0 9F 99 82.
  std::vector<std::string> pieces;
  for (const auto id : t.encode("\xf0\x9f\x99\x82", false)) pieces.push_back(t.piece(id));
  CHECK(pieces == std::vector<std::string>{"\xe2\x96\x81", "<0xF0>", "<0x9F>", "<0x99>", "<0x82>"});
}

TEST_CASE("BOS/EOS flags and tokens come from the JSON files") {
  TempDir dir;
  SECTION("no JSON files: BOS yes, EOS no") {
    make_dir(dir, {});
    const Tokenizer t = Tokenizer::load_dir(dir.path.string());
    CHECK(t.add_bos());
    CHECK_FALSE(t.add_eos());
    const auto ids = t.encode("hello");
    CHECK(ids.front() == 1);
    CHECK(ids.back() != 2);
  }
  SECTION("add_bos_token false, add_eos_token true") {
    make_dir(dir,
             {{"tokenizer_config.json", R"({"add_bos_token": false, "add_eos_token": true})"}});
    const Tokenizer t = Tokenizer::load_dir(dir.path.string());
    const auto ids = t.encode("hello");
    CHECK(ids.front() != 1);
    CHECK(ids.back() == 2);
    CHECK(t.encode("hello", false).size() == ids.size() - 1);
    CHECK(t.encode("") == std::vector<int64_t>{2});
    CHECK(t.decode(ids) == "hello");
  }
  SECTION("token strings, as strings or AddedToken objects; special_tokens_map.json wins") {
    make_dir(dir, {{"tokenizer_config.json",
                    R"({"bos_token": {"content": "</s>", "special": true}, "eos_token": "<s>",
                        "pad_token": "<unk>", "add_eos_token": true})"},
                   {"special_tokens_map.json", R"({"eos_token": {"content": "<unk>"}})"}});
    const Tokenizer t = Tokenizer::load_dir(dir.path.string());
    CHECK(t.bos_id() == 2);
    CHECK(t.eos_id() == 0);
    CHECK(t.pad_id() == 0);
    const auto ids = t.encode("hi");
    CHECK(ids.front() == 2);
    CHECK(ids.back() == 0);
  }
  SECTION("a null token means none") {
    make_dir(dir, {{"tokenizer_config.json", R"({"bos_token": null})"}});
    const Tokenizer t = Tokenizer::load_dir(dir.path.string());
    CHECK(t.bos_id() == -1);
    CHECK(t.encode("hi") == t.encode("hi", false));
  }
}

TEST_CASE("generation stops at EOS and at generation_config.json's eos_token_id") {
  TempDir dir;
  SECTION("no generation_config.json: EOS, then config.json's ids") {
    make_dir(dir, {{"config.json", R"({"eos_token_id": [2, 5]})"}});
    CHECK(Tokenizer::load_dir(dir.path.string()).stop_ids() == std::vector<int64_t>{2, 5});
  }
  SECTION("a list, as Llama 3.1 Instruct has it; ids past the vocabulary left out") {
    make_dir(dir, {{"config.json", R"({"eos_token_id": 7})"},
                   {"generation_config.json", R"({"eos_token_id": [9, 2, 11, 100000]})"}});
    CHECK(Tokenizer::load_dir(dir.path.string()).stop_ids() == std::vector<int64_t>{2, 9, 11});
  }
  SECTION("one id") {
    make_dir(dir, {{"generation_config.json", R"({"eos_token_id": 3})"}});
    CHECK(Tokenizer::load_dir(dir.path.string()).stop_ids() == std::vector<int64_t>{2, 3});
  }
}

TEST_CASE("write_tokenizer_files writes what load_dir and transformers read") {
  TempDir src, out;
  make_dir(src, {{"tokenizer_config.json", R"({"add_eos_token": true})"}});
  const Tokenizer t = Tokenizer::load_dir(src.path.string());
  zili::data::write_tokenizer_files(t, out.path.string(), 2048);
  CHECK(zili::read_file(out / "tokenizer.model") == zili::read_file(trained_model()));
  const auto config = nlohmann::json::parse(zili::read_file(out / "tokenizer_config.json"));
  CHECK(config.at("tokenizer_class") == "LlamaTokenizer");
  CHECK(config.at("add_bos_token") == true);
  CHECK(config.at("add_eos_token") == true);
  CHECK(config.at("bos_token") == "<s>");
  CHECK(config.at("eos_token") == "</s>");
  CHECK(config.at("unk_token") == "<unk>");
  CHECK(config.at("pad_token").is_null());
  CHECK(config.at("model_max_length") == 2048);
  CHECK(config.at("legacy") == false);
  CHECK(config.at("added_tokens_decoder").at("1").at("content") == "<s>");
  const auto map = nlohmann::json::parse(zili::read_file(out / "special_tokens_map.json"));
  CHECK(map.at("eos_token") == "</s>");
  CHECK_FALSE(map.contains("pad_token"));

  const Tokenizer back = Tokenizer::load_dir(out.path.string());
  CHECK(back.add_eos());
  CHECK(back.encode("a round trip") == t.encode("a round trip"));
  // Writing over the folder the model already lives in keeps it intact.
  zili::data::write_tokenizer_files(back, out.path.string());
  CHECK(zili::read_file(out / "tokenizer.model") == zili::read_file(trained_model()));
}

TEST_CASE("errors name the file and say what to do") {
  TempDir dir;
  SECTION("no tokenizer.json and no tokenizer.model") {
    REQUIRE_THROWS_MATCHES(
        Tokenizer::load_dir(dir.path.string()), zili::Error,
        Catch::Message(dir.path.string() + ": no tokenizer.json or tokenizer.model (a "
                                           "checkpoint's tokenizer is one of these; copy it from "
                                           "the model's repository)"));
  }
  SECTION("a file that is not a sentencepiece model") {
    zili::write_file_atomic(dir / "tokenizer.model", "{\"this is\": \"a JSON file\"}\n");
    REQUIRE_THROWS_WITH(Tokenizer::load_dir(dir.path.string()),
                        Catch::StartsWith(dir / "tokenizer.model" + ": not a sentencepiece model"));
    zili::write_file_atomic(dir / "empty.model", "");
    REQUIRE_THROWS_WITH(Tokenizer::load_model_file(dir / "empty.model"),
                        Catch::StartsWith(dir / "empty.model" + ": not a sentencepiece model"));
  }
  SECTION("malformed JSON beside the model") {
    for (const std::string name : {"tokenizer_config.json", "special_tokens_map.json"}) {
      TempDir broken;
      make_dir(broken, {{name, "{\"add_bos_token\": tru"}});
      REQUIRE_THROWS_WITH(Tokenizer::load_dir(broken.path.string()),
                          Catch::StartsWith(broken / name + ": not valid JSON"));
    }
    make_dir(dir, {{"tokenizer_config.json", R"({"add_bos_token": "yes"})"}});
    REQUIRE_THROWS_WITH(
        Tokenizer::load_dir(dir.path.string()),
        dir / "tokenizer_config.json" + ": \"add_bos_token\" must be true or false");
  }
  SECTION("a token the model does not have") {
    make_dir(dir, {{"special_tokens_map.json", R"({"eos_token": "<|end|>"})"}});
    REQUIRE_THROWS_WITH(Tokenizer::load_dir(dir.path.string()),
                        Catch::StartsWith(dir / "special_tokens_map.json" +
                                          ": eos_token \"<|end|>\" is not a token of"));
  }
  SECTION("ids outside the vocabulary") {
    const Tokenizer t = Tokenizer::load_model_file(trained_model());
    REQUIRE_THROWS_WITH(t.decode({5, 512}), Catch::Contains("token id 512 is outside"));
    REQUIRE_THROWS_AS(t.piece(-1), zili::Error);
  }
  SECTION("training: missing corpus, vocabulary too large or too small") {
    REQUIRE_THROWS_WITH(zili::data::train_tokenizer(dir / "none.txt", 512, dir / "m.model"),
                        Catch::StartsWith(dir / "none.txt" + ": no such corpus file"));
    REQUIRE_THROWS_WITH(zili::data::train_tokenizer(kCorpus, 100000, dir / "m.model"),
                        Catch::StartsWith(kCorpus + ": too little text for 100000 pieces") &&
                            Catch::Contains("use a smaller --vocab-size (at most "));
    REQUIRE_THROWS_WITH(zili::data::train_tokenizer(kCorpus, 300, dir / "m.model"),
                        Catch::Contains("use a larger --vocab-size (at least "));
    REQUIRE_THROWS_WITH(zili::data::train_tokenizer(kCorpus, 100, dir / "m.model"),
                        Catch::Contains("too small"));
    zili::write_file_atomic(dir / "empty.txt", "");
    REQUIRE_THROWS_WITH(
        zili::data::train_tokenizer(dir / "empty.txt", 512, dir / "m.model"),
        dir / "empty.txt" + ": no text to train on; give a plain text file, one sentence per line");
    fs::remove(dir / "empty.txt");
    CHECK_FALSE(fs::exists(dir / "m.model"));
    CHECK(fs::is_empty(dir.path));
  }
}

TEST_CASE("encode_continuation drops the dummy prefix; special pieces listed") {
  const Tokenizer t = Tokenizer::load_model_file(trained_model());
  for (const std::string text : {"The cat sat.", "Answer: 12", "\nnew line", "caf\xc3\xa9"}) {
    INFO("text: " << text);
    // The dummy prefix is a space written before the text: a continuation that starts with
    // a space is what the sequence start is.
    CHECK(t.encode_continuation(" " + text) == t.encode(text, false));
    auto ids = t.encode("Hi", false);
    const auto more = t.encode_continuation(text);
    ids.insert(ids.end(), more.begin(), more.end());
    CHECK(t.decode(ids) == "Hi" + text);
  }
  CHECK(t.piece(t.encode_continuation("The")[0]).rfind("\xe2\x96\x81", 0) != 0);
  CHECK(t.encode_continuation("").empty());
  std::vector<std::pair<std::string, int64_t>> specials;
  for (const auto& s : t.special_pieces()) specials.emplace_back(s.text, s.id);
  CHECK(specials == std::vector<std::pair<std::string, int64_t>>{{"</s>", 2}, {"<s>", 1}});
}
