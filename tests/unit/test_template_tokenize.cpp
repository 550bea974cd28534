// SFT and DPO lines through a Jinja chat template, TRL's way: the tokens each layout trains
// on, checked by the text they spell (worked out by hand from the template below), and the
// errors of lines that do not fit.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/model_chat_template.h"
#include "data/template_tokenize.h"
#include "data_fixtures.h"
#include "util/atomic_file.h"
#include "util/error.h"

using namespace zili::data;
using namespace zili::test;
using nlohmann::ordered_json;

namespace {

// ChatML written as a Jinja template, with a BOS first as Llama-style templates write it.
constexpr const char* kChatml =
    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

const ModelChatTemplate& chatml_template() {
  static const ModelChatTemplate t = [] {
    TempDir& dir = scratch();
    zili::write_file_atomic(dir / "tokenizer_config.json",
                            R"({"bos_token": "<s>", "eos_token": "</s>"})");
    zili::write_file_atomic(dir / "chatml.jinja", kChatml);
    return ModelChatTemplate::from_file(dir / "chatml.jinja", dir.path.string());
  }();
  return t;
}

// The text of the trained tokens, in order.
std::string trained_text(const TokenizedExample& e) {
  std::vector<int64_t> ids;
  for (size_t i = 0; i < e.ids.size(); ++i)
    if (e.target[i]) ids.push_back(e.ids[i]);
  return raw_text(chatml_tokenizer(), ids);
}

ordered_json msg(const char* role, const char* content) {
  return {{"role", role}, {"content", content}};
}

}  // namespace

TEST_CASE("messages: every assistant reply and its end marker are trained on, nothing else") {
  const Tokenizer& t = chatml_tokenizer();
  const ordered_json line = {
      {"messages",
       {msg("system", "Be brief."), msg("user", "Hi"), msg("assistant", "Hello there"),
        msg("user", "Sum?"), msg("assistant", "Four.")}}};
  const TokenizedExample e = template_messages_example(chatml_template(), t, line);
  const std::string text =
      "<s><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
      "<|im_start|>assistant\nHello there<|im_end|>\n<|im_start|>user\nSum?<|im_end|>\n"
      "<|im_start|>assistant\nFour.<|im_end|>\n";
  CHECK(e.ids == t.encode_rendered(text));
  CHECK(raw_text(t, e.ids) == text);
  // Each reply: its content, its <|im_end|> and the "\n" after it (what the template writes
  // between the generation prompt and the next turn).
  CHECK(trained_text(e) == "Hello there<|im_end|>\nFour.<|im_end|>\n");
  CHECK(e.ids.front() == t.bos_id());
  CHECK(e.target.front() == 0);
}

TEST_CASE("conversational prompt-completion: the completion after the prompt's tokens") {
  const Tokenizer& t = chatml_tokenizer();
  const ordered_json line = {{"prompt", {msg("user", "Name a colour.")}},
                             {"completion", {msg("assistant", "Blue.")}}};
  const TokenizedExample e = template_completion_example(chatml_template(), t, line);
  CHECK(trained_text(e) == "Blue.<|im_end|>\n");
  CHECK(raw_text(t, e.ids) ==
        "<s><|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\nBlue.<|im_end|>\n");
}

TEST_CASE("pairs: one prompt, each completion after it, implicit prompts too") {
  const Tokenizer& t = chatml_tokenizer();
  const ordered_json prompt = {msg("user", "2 plus 3?")};
  const ordered_json explicit_line = {{"prompt", prompt},
                                      {"chosen", {msg("assistant", "5.")}},
                                      {"rejected", {msg("assistant", "Six, I think.")}}};
  const TokenizedPair pair = template_pair(chatml_template(), t, explicit_line);
  CHECK(raw_text(t, pair.prompt) ==
        "<s><|im_start|>user\n2 plus 3?<|im_end|>\n<|im_start|>assistant\n");
  CHECK(raw_text(t, pair.chosen) == "5.<|im_end|>\n");
  CHECK(raw_text(t, pair.rejected) == "Six, I think.<|im_end|>\n");

  const ordered_json implicit_line = {
      {"chosen", {msg("user", "2 plus 3?"), msg("assistant", "5.")}},
      {"rejected", {msg("user", "2 plus 3?"), msg("assistant", "Six, I think.")}}};
  const TokenizedPair same = template_pair(chatml_template(), t, implicit_line);
  CHECK(same.prompt == pair.prompt);
  CHECK(same.chosen == pair.chosen);
  CHECK(same.rejected == pair.rejected);
}

TEST_CASE("the template's end-of-turn token stops generation") {
  CHECK(template_end_of_turn_ids(chatml_template(), chatml_tokenizer()) ==
        chatml_tokenizer().encode_rendered("<|im_end|>"));
}

TEST_CASE("lines that do not fit say why") {
  const Tokenizer& t = chatml_tokenizer();
  const ModelChatTemplate& c = chatml_template();
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(template_messages_example(c, t, {{"messages", {msg("user", "Hi")}}}),
                    Contains("no assistant message"));
  CHECK_THROWS_WITH(template_messages_example(c, t, {{"messages", ordered_json::array()}}),
                    Contains("\"messages\" is empty"));
  CHECK_THROWS_WITH(
      template_messages_example(c, t, {{"messages", {{{"role", "user"}, {"content", 3}}}}}),
      Contains("\"content\" of message 1 must be a string"));
  CHECK_THROWS_WITH(
      template_completion_example(
          c, t, {{"prompt", {msg("assistant", "Hi")}}, {"completion", {msg("assistant", "Yo")}}}),
      Contains("ends with a assistant message"));
  CHECK_THROWS_WITH(template_pair(c, t,
                                  {{"prompt", {msg("user", "Q")}},
                                   {"chosen", {msg("assistant", "A")}},
                                   {"rejected", {msg("assistant", "A")}}}),
                    Contains("render to the same tokens"));
  CHECK_THROWS_WITH(
      template_messages_example(
          c, t, {{"messages", {msg("user", "Q"), msg("assistant", "A")}}, {"tools", 5}}),
      Contains("\"tools\" must be a list"));
}
