// Finding a model folder's chat template and building apply_chat_template's context:
// chat_template.jinja before tokenizer_config.json, a list's "default" entry, special tokens
// as strings or {"content"} objects (special_tokens_map.json filling gaps), reasoning copied
// under "thinking" and "reasoning_content" in transformers' key order.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "data/jinja_chat.h"
#include "util/error.h"

using nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

struct Folder {
  fs::path path = fs::temp_directory_path() / ("zili-jinja-chat-" + std::to_string(getpid()));
  Folder() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Folder() { fs::remove_all(path); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
  }
};

}  // namespace

TEST_CASE("the template comes from the override, chat_template.jinja, then tokenizer_config") {
  Folder f;
  CHECK_FALSE(zili::data::find_chat_template(f.path.string()).has_value());
  f.write("tokenizer_config.json", R"({"chat_template": [{"name": "tool_use", "template": "T"},
                                       {"name": "default", "template": "D"}]})");
  CHECK(zili::data::find_chat_template(f.path.string())->text == "D");
  f.write("tokenizer_config.json", R"({"chat_template": "S"})");
  CHECK(zili::data::find_chat_template(f.path.string())->text == "S");
  f.write("chat_template.jinja", "J");
  CHECK(zili::data::find_chat_template(f.path.string())->text == "J");
  f.write("other.jinja", "O");
  CHECK(zili::data::find_chat_template(f.path.string(), (f.path / "other.jinja").string())->text ==
        "O");
  CHECK_THROWS_AS(zili::data::find_chat_template(f.path.string(), "missing.jinja"), zili::Error);
  fs::remove(f.path / "chat_template.jinja");
  f.write("tokenizer_config.json", R"({"chat_template": [{"name": "rag", "template": "R"}]})");
  CHECK_THROWS_AS(zili::data::find_chat_template(f.path.string()), zili::Error);
}

TEST_CASE("special tokens: strings, content objects, special_tokens_map.json for the rest") {
  Folder f;
  f.write("tokenizer_config.json",
          R"({"bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false}})");
  f.write("special_tokens_map.json", R"({"eos_token": "X", "unk_token": "<unk>"})");
  const auto t = zili::data::read_special_token_strings(f.path.string());
  CHECK(t.bos == "<s>");
  CHECK(t.eos == "</s>");
  CHECK(t.unk == "<unk>");
  CHECK_FALSE(t.pad.has_value());
}

TEST_CASE("the context: defined tokens only, reasoning aliased, extra variables last") {
  zili::data::SpecialTokenStrings tokens;
  tokens.bos = "<s>";
  const ordered_json messages = ordered_json::parse(
      R"([{"role": "assistant", "content": "42", "reasoning_content": "hmm"}])");
  const ordered_json c =
      zili::data::chat_template_context(messages, nullptr, nullptr, true, tokens,
                                        ordered_json::parse(R"({"enable_thinking": false})"));
  CHECK(
      c.dump() ==
      R"({"messages":[{"thinking":"hmm","role":"assistant","content":"42","reasoning_content":"hmm"}],)"
      R"("tools":null,"documents":null,"add_generation_prompt":true,"bos_token":"<s>",)"
      R"("enable_thinking":false})");
}
