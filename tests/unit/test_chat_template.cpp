// The chat templates: each renders to the string its published format writes (spelled out
// by hand below), tokenizes to the ids of those hand-written pieces, and trains on exactly
// the assistant replies and their end-of-turn markers; prompt + reply equals the whole
// conversation; special-token text becomes an id only where the template wrote it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "data/chat_template.h"
#include "data/sft_data.h"
#include "data_fixtures.h"
#include "util/error.h"

using namespace zili::data;
using zili::test::concat;
using zili::test::raw_text;

namespace {

const std::string kSystem = "You are terse.";
const std::string kUser1 = "What is 2 plus 3?";
const std::string kReply1 = "It is 5.";
const std::string kUser2 = "And 4 plus 4?";
const std::string kReply2 = "It is 8.";

const std::vector<Message> kSingle = {
    {"system", kSystem}, {"user", kUser1}, {"assistant", kReply1}};
const std::vector<Message> kTwoTurns = {
    {"user", kUser1}, {"assistant", kReply1}, {"user", kUser2}, {"assistant", kReply2}};

// One hand-written piece of an expected sequence: text (encoded as a fresh sentence at the
// start or right after a BOS, as a continuation otherwise) or a token id.
struct Piece {
  std::string text;
  int64_t id = -1;
  bool trainable = false;
};
Piece text(std::string s, bool trainable = false) {
  return {std::move(s), -1, trainable};
}
Piece token(int64_t id, bool trainable = false) {
  return {"", id, trainable};
}

TokenizedExample expected_tokens(const Tokenizer& t, const std::vector<Piece>& pieces) {
  TokenizedExample e;
  bool at_start = true;
  for (const Piece& p : pieces) {
    std::vector<int64_t> ids = {p.id};
    if (p.id < 0) ids = at_start ? t.encode(p.text, false) : t.encode_continuation(p.text);
    at_start = p.id == t.bos_id();
    e.ids.insert(e.ids.end(), ids.begin(), ids.end());
    e.target.insert(e.target.end(), ids.size(), p.trainable ? 1 : 0);
  }
  return e;
}

// The trained-on ids, spelled out.
std::string trained_text(const Tokenizer& t, const TokenizedExample& e) {
  std::vector<int64_t> ids;
  for (size_t i = 0; i < e.ids.size(); ++i)
    if (e.target[i]) ids.push_back(e.ids[i]);
  return raw_text(t, ids);
}

// `text` with every `from` replaced by `to` (built afresh: GCC 12 warns falsely on in-place
// string edits in loops).
std::string replace_all(const std::string& text, const std::string& from, const std::string& to) {
  std::string out;
  size_t done = 0;
  for (size_t at; (at = text.find(from, done)) != std::string::npos; done = at + from.size())
    out += text.substr(done, at - done) + to;
  return out + text.substr(done);
}

// Every check of one (template, conversation) pair.
void check_template(const Tokenizer& t, ChatTemplate tmpl, const std::vector<Message>& messages,
                    const std::string& rendered, const std::vector<Piece>& pieces,
                    const std::string& trained) {
  INFO("template " << chat_template_name(tmpl) << ", " << messages.size() << " messages");
  const auto parts = render_conversation(tmpl, messages);
  CHECK(join_parts(parts) == rendered);
  const TokenizedExample got = tokenize_parts(t, parts);
  const TokenizedExample want = expected_tokens(t, pieces);
  CHECK(got.ids == want.ids);
  CHECK(got.target == want.target);
  CHECK(trained_text(t, got) == trained);
  // EOS exactly once, at the end.
  CHECK(got.ids.back() == t.eos_id());
  // The ids spell the rendered text (the dummy prefix shows as a space after <s>), and
  // decode gives it back without the special tokens.
  const std::string spelled = raw_text(t, got.ids);
  // Each <s> followed by text shows the dummy prefix of the fresh encode after it.
  std::string expected_spelled = replace_all(rendered, "<s>", "<s> ");
  if (expected_spelled.size() < 4 ||
      expected_spelled.compare(expected_spelled.size() - 4, 4, "</s>"))
    expected_spelled += "</s>";  // the EOS tokenize_parts appends
  CHECK(spelled == expected_spelled);
  // decode() drops special tokens; the prefix after an inner <s> remains as a space.
  std::string plain = replace_all(replace_all(rendered, "</s>", ""), "<s>", " ");
  if (!plain.empty() && plain[0] == ' ' && rendered.rfind("<s>", 0) == 0) plain = plain.substr(1);
  CHECK(t.decode(got.ids) == plain);
}

}  // namespace

TEST_CASE("llama2 renders and tokenizes as Meta's chat format") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const int64_t bos = t.bos_id(), eos = t.eos_id();
  check_template(
      t, ChatTemplate::llama2, kSingle,
      "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nWhat is 2 plus 3? [/INST] It is "
      "5. </s>",
      {token(bos), text("[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nWhat is 2 plus 3? [/INST]"),
       text(" It is 5. ", true), token(eos, true)},
      " It is 5. </s>");
  check_template(t, ChatTemplate::llama2, kTwoTurns,
                 "<s>[INST] What is 2 plus 3? [/INST] It is 5. </s><s>[INST] And 4 plus 4? "
                 "[/INST] It is 8. </s>",
                 {token(bos), text("[INST] What is 2 plus 3? [/INST]"), text(" It is 5. ", true),
                  token(eos, true), token(bos), text("[INST] And 4 plus 4? [/INST]"),
                  text(" It is 8. ", true), token(eos, true)},
                 " It is 5. </s> It is 8. </s>");
  // Contents are stripped between the markers, as the published template does.
  const auto parts = render_conversation(ChatTemplate::llama2,
                                         {{"user", "  Hi there \n"}, {"assistant", "\nHello! "}});
  CHECK(join_parts(parts) == "<s>[INST] Hi there [/INST] Hello! </s>");
}

TEST_CASE("mistral renders and tokenizes as Mistral-7B-Instruct's format") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const int64_t bos = t.bos_id(), eos = t.eos_id();
  check_template(t, ChatTemplate::mistral, kSingle,
                 "<s>[INST] You are terse.\n\nWhat is 2 plus 3? [/INST]It is 5.</s>",
                 {token(bos), text("[INST] You are terse.\n\nWhat is 2 plus 3? [/INST]"),
                  text("It is 5.", true), token(eos, true)},
                 "It is 5.</s>");
  check_template(t, ChatTemplate::mistral, kTwoTurns,
                 "<s>[INST] What is 2 plus 3? [/INST]It is 5.</s>[INST] And 4 plus 4? [/INST]It "
                 "is 8.</s>",
                 {token(bos), text("[INST] What is 2 plus 3? [/INST]"), text("It is 5.", true),
                  token(eos, true), text("[INST] And 4 plus 4? [/INST]"), text("It is 8.", true),
                  token(eos, true)},
                 "It is 5.</s>It is 8.</s>");
}

TEST_CASE("chatml renders and tokenizes as ChatML, markers as text or as their pieces") {
  const std::string single =
      "<s><|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2 plus "
      "3?<|im_end|>\n<|im_start|>assistant\nIt is 5.<|im_end|>";
  const std::string two =
      "<s><|im_start|>user\nWhat is 2 plus 3?<|im_end|>\n<|im_start|>assistant\nIt is "
      "5.<|im_end|>\n<|im_start|>user\nAnd 4 plus 4?<|im_end|>\n<|im_start|>assistant\nIt is "
      "8.<|im_end|>";
  SECTION("a vocabulary without the markers: they are plain text") {
    const Tokenizer& t = zili::test::plain_tokenizer();
    const int64_t bos = t.bos_id(), eos = t.eos_id();
    check_template(t, ChatTemplate::chatml, kSingle, single,
                   {token(bos),
                    text("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat "
                         "is 2 plus 3?<|im_end|>\n<|im_start|>assistant\n"),
                    text("It is 5.<|im_end|>", true), token(eos, true)},
                   "It is 5.<|im_end|></s>");
    check_template(
        t, ChatTemplate::chatml, kTwoTurns, two,
        {token(bos), text("<|im_start|>user\nWhat is 2 plus 3?<|im_end|>\n<|im_start|>assistant\n"),
         text("It is 5.<|im_end|>", true),
         text("\n<|im_start|>user\nAnd 4 plus 4?<|im_end|>\n<|im_start|>assistant\n"),
         text("It is 8.<|im_end|>", true), token(eos, true)},
        "It is 5.<|im_end|>It is 8.<|im_end|></s>");
  }
  SECTION("a vocabulary with the markers as user-defined pieces: they become their ids") {
    const Tokenizer& t = zili::test::chatml_tokenizer();
    const int64_t bos = t.bos_id(), eos = t.eos_id();
    const int64_t start = 3, end = 4;
    REQUIRE(t.piece(start) == "<|im_start|>");
    REQUIRE(t.piece(end) == "<|im_end|>");
    // A special piece ends a run, so the text after it is a continuation (no dummy prefix).
    const auto parts = render_conversation(ChatTemplate::chatml, kTwoTurns);
    const TokenizedExample got = tokenize_parts(t, parts);
    const TokenizedExample want = expected_tokens(
        t, {token(bos), token(start), text("user\nWhat is 2 plus 3?"), token(end), text("\n"),
            token(start), text("assistant\n"), text("It is 5.", true), token(end, true), text("\n"),
            token(start), text("user\nAnd 4 plus 4?"), token(end), text("\n"), token(start),
            text("assistant\n"), text("It is 8.", true), token(end, true), token(eos, true)});
    CHECK(got.ids == want.ids);
    CHECK(got.target == want.target);
    CHECK(raw_text(t, got.ids) == two + "</s>");
    CHECK(trained_text(t, got) == "It is 5.<|im_end|>It is 8.<|im_end|></s>");
  }
  SECTION("eos_token <|im_end|>: the reply's marker is the one EOS") {
    const Tokenizer& t = zili::test::im_end_eos_tokenizer();
    REQUIRE(t.piece(t.eos_id()) == "<|im_end|>");
    const TokenizedExample got =
        tokenize_parts(t, render_conversation(ChatTemplate::chatml, kSingle));
    CHECK(got.ids.back() == t.eos_id());
    CHECK(got.ids[got.ids.size() - 2] != t.eos_id());
    CHECK(raw_text(t, got.ids) == single);
    CHECK(trained_text(t, got) == "It is 5.<|im_end|>");
  }
}

TEST_CASE("zephyr renders and tokenizes as zephyr-7b-beta's format") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const int64_t bos = t.bos_id(), eos = t.eos_id();
  check_template(t, ChatTemplate::zephyr, kSingle,
                 "<s><|system|>\nYou are terse.</s>\n<|user|>\nWhat is 2 plus 3?</s>\n<|assistant|>"
                 "\nIt is 5.</s>",
                 {token(bos), text("<|system|>\nYou are terse."), token(eos),
                  text("\n<|user|>\nWhat is 2 plus 3?"), token(eos), text("\n<|assistant|>\n"),
                  text("It is 5.", true), token(eos, true)},
                 "It is 5.</s>");
  check_template(
      t, ChatTemplate::zephyr, kTwoTurns,
      "<s><|user|>\nWhat is 2 plus 3?</s>\n<|assistant|>\nIt is 5.</s>\n<|user|>\nAnd 4 "
      "plus 4?</s>\n<|assistant|>\nIt is 8.</s>",
      {token(bos), text("<|user|>\nWhat is 2 plus 3?"), token(eos), text("\n<|assistant|>\n"),
       text("It is 5.", true), token(eos, true), text("\n<|user|>\nAnd 4 plus 4?"), token(eos),
       text("\n<|assistant|>\n"), text("It is 8.", true), token(eos, true)},
      "It is 5.</s>It is 8.</s>");
}

TEST_CASE("alpaca renders and tokenizes as the Stanford Alpaca prompt") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const int64_t bos = t.bos_id(), eos = t.eos_id();
  const std::string preamble =
      "Below is an instruction that describes a task. Write a response that appropriately "
      "completes the request.";
  check_template(
      t, ChatTemplate::alpaca, kSingle,
      "<s>You are terse.\n\n### Instruction:\nWhat is 2 plus 3?\n\n### Response:\nIt "
      "is 5.</s>",
      {token(bos), text("You are terse.\n\n### Instruction:\nWhat is 2 plus 3?\n\n### Response:\n"),
       text("It is 5.", true), token(eos, true)},
      "It is 5.</s>");
  check_template(
      t, ChatTemplate::alpaca, kTwoTurns,
      "<s>" + preamble +
          "\n\n### Instruction:\nWhat is 2 plus 3?\n\n### Response:\nIt is 5.</s>\n\n### "
          "Instruction:\nAnd 4 plus 4?\n\n### Response:\nIt is 8.</s>",
      {token(bos), text(preamble + "\n\n### Instruction:\nWhat is 2 plus 3?\n\n### Response:\n"),
       text("It is 5.", true), token(eos, true),
       text("\n\n### Instruction:\nAnd 4 plus 4?\n\n### Response:\n"), text("It is 8.", true),
       token(eos, true)},
      "It is 5.</s>It is 8.</s>");
}

TEST_CASE("plain joins the contents with newlines") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const int64_t bos = t.bos_id(), eos = t.eos_id();
  check_template(t, ChatTemplate::plain, kSingle,
                 "<s>You are terse.\nWhat is 2 plus 3?\nIt is 5.</s>",
                 {token(bos), text("You are terse.\nWhat is 2 plus 3?\n"), text("It is 5.", true),
                  token(eos, true)},
                 "It is 5.</s>");
  check_template(t, ChatTemplate::plain, kTwoTurns,
                 "<s>What is 2 plus 3?\nIt is 5.</s>\nAnd 4 plus 4?\nIt is 8.</s>",
                 {token(bos), text("What is 2 plus 3?\n"), text("It is 5.", true), token(eos, true),
                  text("\nAnd 4 plus 4?\n"), text("It is 8.", true), token(eos, true)},
                 "It is 5.</s>It is 8.</s>");
}

TEST_CASE("the generation prompt of each template, and prompt + reply == the conversation") {
  const std::vector<Message> prompt = {{"user", "Hi"}};
  const std::vector<std::pair<ChatTemplate, std::string>> expected = {
      {ChatTemplate::llama2, "<s>[INST] Hi [/INST]"},
      {ChatTemplate::mistral, "<s>[INST] Hi [/INST]"},
      {ChatTemplate::chatml, "<s><|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
      {ChatTemplate::zephyr, "<s><|user|>\nHi</s>\n<|assistant|>\n"},
      {ChatTemplate::alpaca,
       "<s>Below is an instruction that describes a task. Write a response that appropriately "
       "completes the request.\n\n### Instruction:\nHi\n\n### Response:\n"},
      {ChatTemplate::plain, "<s>Hi\n"},
  };
  for (const auto& [tmpl, want] : expected) {
    INFO(chat_template_name(tmpl));
    const auto parts = render_prompt(tmpl, prompt);
    CHECK(join_parts(parts) == want);
    CHECK(std::none_of(parts.begin(), parts.end(), [](const ChatPart& p) { return p.trainable; }));
    const auto reply = render_reply(tmpl, "Hello");
    CHECK(std::all_of(reply.begin(), reply.end(), [](const ChatPart& p) { return p.trainable; }));

    for (const auto& history : {kSingle, kTwoTurns}) {
      std::vector<Message> p = history;
      p.push_back({"user", "One more?"});
      std::vector<ChatPart> joined = render_prompt(tmpl, p);
      const auto r = render_reply(tmpl, "Yes.");
      joined.insert(joined.end(), r.begin(), r.end());
      std::vector<Message> whole = p;
      whole.push_back({"assistant", "Yes."});
      const auto conversation = render_conversation(tmpl, whole, p.size());
      REQUIRE(joined.size() == conversation.size());
      for (size_t i = 0; i < joined.size(); ++i) {
        INFO("part " << i);
        CHECK(joined[i].kind == conversation[i].kind);
        CHECK(joined[i].text == conversation[i].text);
        CHECK(joined[i].trainable == conversation[i].trainable);
        CHECK(joined[i].from_template == conversation[i].from_template);
      }
    }
  }
}

TEST_CASE("special-token text in user content stays text") {
  const std::string sneaky = "Say <|im_end|> or </s> or <s>, please.";
  for (const Tokenizer* t : {&zili::test::plain_tokenizer(), &zili::test::chatml_tokenizer()}) {
    const auto parts = render_conversation(
        ChatTemplate::chatml, {{"user", sneaky}, {"assistant", "No <|im_start|> here."}});
    const TokenizedExample e = tokenize_parts(*t, parts);
    // BOS once, EOS once, and the marker ids (when the vocabulary has them) only where the
    // template put them: 2 starts and 2 ends.
    CHECK(std::count(e.ids.begin(), e.ids.end(), t->bos_id()) == 1);
    CHECK(std::count(e.ids.begin(), e.ids.end(), t->eos_id()) == 1);
    if (t == &zili::test::chatml_tokenizer()) {
      CHECK(std::count(e.ids.begin(), e.ids.end(), 3) == 2);
      CHECK(std::count(e.ids.begin(), e.ids.end(), 4) == 2);
    }
    CHECK(raw_text(*t, e.ids).find(sneaky) != std::string::npos);
    CHECK(t->decode(e.ids).find("No <|im_start|> here.<|im_end|>") != std::string::npos);
  }
}

TEST_CASE("messages that do not fit a template") {
  using Catch::Matchers::Contains;
  using Catch::Matchers::Equals;
  CHECK_THROWS_WITH(
      render_conversation(ChatTemplate::chatml, {{"user", "a"}, {"bot", "b"}}),
      Equals("unknown role \"bot\" in message 2 (expected system, user or assistant)"));
  CHECK_THROWS_WITH(render_conversation(ChatTemplate::chatml,
                                        {{"user", "a"}, {"system", "s"}, {"assistant", "b"}}),
                    Contains("system message 2 must come first"));
  CHECK_THROWS_WITH(render_conversation(ChatTemplate::chatml, {{"user", "a"}}),
                    Equals("no assistant message: nothing to train on"));
  for (const ChatTemplate t : {ChatTemplate::llama2, ChatTemplate::mistral, ChatTemplate::alpaca}) {
    CHECK_THROWS_WITH(render_conversation(t, {{"user", "a"}, {"user", "b"}, {"assistant", "c"}}),
                      Contains("message 2 is \"user\" where") && Contains("expects \"assistant\""));
    CHECK_THROWS_WITH(render_conversation(t, {{"assistant", "c"}}),
                      Contains("message 1 is \"assistant\""));
  }
  // ChatML and zephyr take any order of user and assistant turns.
  CHECK_NOTHROW(render_conversation(ChatTemplate::chatml,
                                    {{"assistant", "hi"}, {"user", "a"}, {"user", "b"}}));
  CHECK_THROWS_WITH(render_prompt(ChatTemplate::chatml, {{"user", "a"}, {"assistant", "b"}}),
                    Contains("a prompt must end with a user message (message 2 is \"assistant\")"));
}

TEST_CASE("template names and recognising a tokenizer_config chat_template") {
  for (const char* name : {"llama2", "mistral", "chatml", "zephyr", "alpaca", "plain"})
    CHECK(std::string(chat_template_name(parse_chat_template(name))) == name);
  CHECK_THROWS_WITH(parse_chat_template("vicuna"),
                    Catch::Matchers::Equals("unknown chat template \"vicuna\" (expected llama2, "
                                            "mistral, chatml, zephyr, alpaca or plain)"));
  // Shortened from the published tokenizer_config.json files.
  CHECK(recognise_chat_template(
            "{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false "
            "%}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + "
            "message['content'] %}{% endif %}{{ bos_token + '[INST] ' + content.strip() + ' "
            "[/INST]' }}{% endfor %}") == ChatTemplate::llama2);
  CHECK(recognise_chat_template("{{ bos_token }}{% for message in messages %}{{ '[INST] ' + "
                                "message['content'] + ' [/INST]' }}{% endfor %}") ==
        ChatTemplate::mistral);
  CHECK(recognise_chat_template("{% for message in messages %}{{'<|im_start|>' + "
                                "message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
                                "'\\n'}}{% endfor %}") == ChatTemplate::chatml);
  CHECK(recognise_chat_template("{{ '<|user|>\\n' + message['content'] + eos_token }}{{ "
                                "'<|assistant|>' }}") == ChatTemplate::zephyr);
  CHECK(recognise_chat_template("### Instruction:\\n{{ instruction }}") == ChatTemplate::alpaca);
  CHECK_FALSE(recognise_chat_template("{{ messages }}").has_value());
}

TEST_CASE("the Jinja text and marker pieces init writes for chatml and zephyr") {
  // What init puts into tokenizer_config.json must come back as the same template under
  // --chat-template auto, and the markers it makes whole pieces are the template's own.
  for (const ChatTemplate t : {ChatTemplate::chatml, ChatTemplate::zephyr})
    CHECK(recognise_chat_template(chat_template_jinja(t)) == t);
  CHECK(chat_template_jinja(ChatTemplate::chatml).rfind("{{ bos_token }}", 0) == 0);
  CHECK(chat_template_marker_pieces(ChatTemplate::chatml) ==
        std::vector<std::string>{"<|im_start|>", "<|im_end|>"});
  CHECK(chat_template_marker_pieces(ChatTemplate::zephyr) ==
        std::vector<std::string>{"<|system|>", "<|user|>", "<|assistant|>"});
  for (const ChatTemplate t :
       {ChatTemplate::llama2, ChatTemplate::mistral, ChatTemplate::alpaca, ChatTemplate::plain}) {
    CHECK(chat_template_marker_pieces(t).empty());
    CHECK_THROWS_WITH(chat_template_jinja(t), Catch::Matchers::Contains("no Jinja text for the"));
  }
}
