// SFT data files: each layout tokenized with its loss targets and EOS exactly once,
// truncation and dropping to the max length, and the catalogue of bad lines (each with its
// FILE:LINE reason under error, counted and skipped under skip).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "data/sft_data.h"
#include "data_fixtures.h"
#include "util/atomic_file.h"
#include "util/error.h"

using namespace zili::data;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;
using zili::test::concat;

namespace {

// A JSONL file with these lines in the scratch folder.
std::string write_jsonl(const std::string& name, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  const std::string path = zili::test::scratch() / name;
  zili::write_file_atomic(path, text);
  return path;
}

SftDataset read(const std::string& path, SftDataOptions options = {}) {
  return read_sft_data(path, zili::test::plain_tokenizer(), options);
}

std::vector<uint8_t> targets(size_t untrained, size_t trained) {
  std::vector<uint8_t> t(untrained, 0);
  t.insert(t.end(), trained, 1);
  return t;
}

}  // namespace

TEST_CASE("text layout: every token trained on, one EOS") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const std::string path =
      write_jsonl("text.jsonl", {R"({"text": "The cat sat on the mat."})", "",
                                 R"({"text": "Ends with </s> typed out", "id": 7})"});
  const SftDataset data = read(path);
  CHECK(data.stats.layout == "text");
  CHECK(data.stats.lines == 2);
  REQUIRE(data.stats.examples == 2);
  const TokenizedExample& e = data.examples[0];
  CHECK(e.line == 1);
  const auto body = t.encode("The cat sat on the mat.", false);
  CHECK(e.ids == concat({{t.bos_id()}, body, {t.eos_id()}}));
  CHECK(e.target == targets(1, body.size() + 1));
  CHECK(t.decode(e.ids) == "The cat sat on the mat.");
  // A "</s>" the user typed is text: the only EOS id is the last token.
  const TokenizedExample& typed = data.examples[1];
  CHECK(typed.line == 3);
  CHECK(std::count(typed.ids.begin(), typed.ids.end(), t.eos_id()) == 1);
  CHECK(typed.ids.back() == t.eos_id());
  CHECK(t.decode(typed.ids) == "Ends with </s> typed out");
}

TEST_CASE("prompt-completion layout: completion and EOS trained on, no shared token") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const std::string path = write_jsonl(
      "pc.jsonl", {R"({"prompt": "Q: How much is 2 plus 3?\nA:", "completion": " 5"})"});
  const SftDataset data = read(path);
  CHECK(data.stats.layout == "prompt-completion");
  REQUIRE(data.examples.size() == 1);
  const auto prompt = t.encode("Q: How much is 2 plus 3?\nA:", false);
  const auto completion = t.encode_continuation(" 5");
  const TokenizedExample& e = data.examples[0];
  CHECK(e.ids == concat({{t.bos_id()}, prompt, completion, {t.eos_id()}}));
  CHECK(e.target == targets(1 + prompt.size(), completion.size() + 1));
  CHECK(e.target_count() == static_cast<int64_t>(completion.size()) + 1);
  CHECK(t.decode(e.ids) == "Q: How much is 2 plus 3?\nA: 5");
}

TEST_CASE("conversational layouts go through the chat template") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  SftDataOptions options;
  options.chat_template = ChatTemplate::zephyr;
  SECTION("prompt and completion as message lists: only the completion is trained on") {
    const std::string path = write_jsonl(
        "conv.jsonl",
        {R"({"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}], "completion": [{"role": "assistant", "content": "Bye."}]})"});
    const SftDataset data = read(path, options);
    CHECK(data.stats.layout == "conversational prompt-completion");
    REQUIRE(data.examples.size() == 1);
    const std::vector<Message> prompt = {
        {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"}};
    std::vector<ChatPart> parts = render_prompt(ChatTemplate::zephyr, prompt);
    const auto reply = render_reply(ChatTemplate::zephyr, "Bye.");
    parts.insert(parts.end(), reply.begin(), reply.end());
    const TokenizedExample want = tokenize_parts(t, parts);
    CHECK(data.examples[0].ids == want.ids);
    CHECK(data.examples[0].target == want.target);
    // "Hello." in the prompt is history, not a target: only "Bye." and its EOS are.
    const auto trained = t.encode_continuation("Bye.");
    CHECK(data.examples[0].target_count() == static_cast<int64_t>(trained.size()) + 1);
  }
  SECTION("messages: every assistant turn trained on") {
    const std::string path = write_jsonl(
        "messages.jsonl",
        {R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Bye."}]})"});
    const SftDataset data = read(path, options);
    CHECK(data.stats.layout == "messages");
    REQUIRE(data.examples.size() == 1);
    const TokenizedExample want = tokenize_parts(
        t, render_conversation(
               ChatTemplate::zephyr,
               {{"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"}, {"assistant", "Bye."}}));
    CHECK(data.examples[0].ids == want.ids);
    CHECK(data.examples[0].target == want.target);
    CHECK(data.examples[0].target_count() ==
          static_cast<int64_t>(t.encode_continuation("Hello.").size() +
                               t.encode_continuation("Bye.").size() + 2));
    // Zephyr's reply ends with EOS: none is added after it.
    const auto& ids = data.examples[0].ids;
    CHECK(ids.back() == t.eos_id());
    CHECK(ids[ids.size() - 2] != t.eos_id());
  }
}

TEST_CASE("EOS exactly once at the end, in every layout and template") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const std::vector<std::string> lines = {
      R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]})"};
  for (const char* name : {"llama2", "mistral", "chatml", "zephyr", "alpaca", "plain"}) {
    INFO(name);
    SftDataOptions options;
    options.chat_template = parse_chat_template(name);
    const SftDataset data = read(write_jsonl("eos.jsonl", lines), options);
    REQUIRE(data.examples.size() == 1);
    const auto& ids = data.examples[0].ids;
    CHECK(ids.back() == t.eos_id());
    CHECK(ids[ids.size() - 2] != t.eos_id());
    CHECK(data.examples[0].target.back() == 1);
  }
  for (const auto& line : {std::string(R"({"text": "Hello."})"),
                           std::string(R"({"prompt": "Hi", "completion": " Hello."})")}) {
    const SftDataset data = read(write_jsonl("eos.jsonl", {line}));
    const auto& ids = data.examples[0].ids;
    CHECK(std::count(ids.begin(), ids.end(), t.eos_id()) == 1);
    CHECK(ids.back() == t.eos_id());
  }
}

TEST_CASE("max length: truncate the end, or drop") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const std::string prompt_text = "Q: Name the colour of the sky.\nA:";
  const std::string completion_text = " The sky is blue on a clear day, and grey in the rain.";
  const auto prompt = t.encode(prompt_text, false);
  const auto completion = t.encode_continuation(completion_text);
  const auto full = concat({{t.bos_id()}, prompt, completion, {t.eos_id()}});
  const int64_t P = 1 + static_cast<int64_t>(prompt.size());  // BOS + prompt
  const int64_t N = static_cast<int64_t>(full.size());
  REQUIRE(completion.size() > 4);
  const std::string path = write_jsonl(
      "long.jsonl",
      {R"({"prompt": "Q: Name the colour of the sky.\nA:", "completion": " The sky is blue on a clear day, and grey in the rain."})",
       R"({"prompt": "Hi", "completion": " Yo"})"});
  SftDataOptions options;

  SECTION("exactly max length, EOS included: kept whole") {
    options.max_length = N;
    const SftDataset data = read(path, options);
    CHECK(data.stats.truncated == 0);
    CHECK(data.examples[0].ids == full);
    CHECK_FALSE(data.examples[0].truncated);
  }
  SECTION("truncated: the prompt kept, the completion cut, no EOS") {
    options.max_length = P + 3;
    const SftDataset data = read(path, options);
    CHECK(data.stats.examples == 2);
    CHECK(data.stats.truncated == 1);
    CHECK(data.stats.dropped_overlong == 0);
    const TokenizedExample& e = data.examples[0];
    CHECK(e.truncated);
    CHECK(e.ids == std::vector<int64_t>(full.begin(), full.begin() + P + 3));
    CHECK(e.ids.back() != t.eos_id());
    CHECK(e.target == targets(P, 3));
    CHECK_FALSE(data.examples[1].truncated);
  }
  SECTION("one token short: only the EOS is cut") {
    options.max_length = N - 1;
    const SftDataset data = read(path, options);
    CHECK(data.examples[0].ids == std::vector<int64_t>(full.begin(), full.end() - 1));
    CHECK(data.stats.truncated == 1);
  }
  SECTION("the prompt alone fills max length: dropped, nothing left to train on") {
    options.max_length = P;
    const SftDataset data = read(path, options);
    CHECK(data.stats.examples == 1);
    CHECK(data.stats.dropped_overlong == 1);
    CHECK(data.stats.truncated == 0);
    CHECK(data.examples[0].line == 2);
  }
  SECTION("drop_overlong: every overlong example dropped") {
    options.max_length = N - 1;
    options.drop_overlong = true;
    const SftDataset data = read(path, options);
    CHECK(data.stats.examples == 1);
    CHECK(data.stats.dropped_overlong == 1);
    CHECK(data.stats.truncated == 0);
    CHECK(data.examples[0].line == 2);
  }
  SECTION("nothing fits: an error naming the file") {
    options.max_length = 3;
    CHECK_THROWS_WITH(read(path, options), StartsWith(path + ": no usable example") &&
                                               Contains("2 longer than the max length 3"));
  }
}

TEST_CASE("the bad-line catalogue: FILE:LINE: reason, or counted and skipped") {
  struct Bad {
    std::string good;  // line 1, which sets the file's layout
    std::string bad;   // line 2
    std::string reason;
  };
  const std::string text = R"({"text": "Fine."})";
  const std::string pc = R"({"prompt": "Hi", "completion": " Yo"})";
  const std::string msgs =
      R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]})";
  const std::vector<Bad> catalogue = {
      {text, R"({"text": "Fine.")", "not valid JSON (the line ends inside a value)"},
      {text, R"({"text": "Fine.",, "x": 1})", "not valid JSON (error at byte 18)"},
      {text, "{\"text\": \"caf\xff\"}", "invalid UTF-8 at byte 14"},
      {text, "{\"text\": \"\xe2\x82\"}", "invalid UTF-8 at byte 11"},  // cut-off sequence
      {text, R"([1, 2])", "expected a JSON object, got array"},
      {text, R"({"txt": "typo"})",
       "no \"text\", \"prompt\"/\"completion\" or \"messages\" key; expected"},
      {text, R"({"text": 5})", "\"text\" must be a string, got number"},
      {text, R"({"text": ""})", "\"text\" is empty"},
      {text, pc, "layout prompt-completion differs from the file's (text, from line 1)"},
      {pc, R"({"prompt": "Hi"})", "missing key \"completion\""},
      {pc, R"({"prompt": "Hi", "completion": ""})", "\"completion\" is empty"},
      {pc, R"({"prompt": null, "completion": "x"})", "\"prompt\" must be a string, got null"},
      {msgs, R"({"messages": [{"role": "user", "content": "Hi"}]})",
       "\"messages\" has no assistant message: nothing to train on"},
      {msgs,
       R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "Yo"}]})",
       "unknown role \"bot\" in message 2 (expected system, user or assistant)"},
      {msgs, R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant"}]})",
       "message 2 has no \"content\""},
      {msgs,
       R"({"messages": [{"role": "user", "content": null}, {"role": "assistant", "content": "Yo"}]})",
       "\"content\" of message 1 must be a string, got null"},
      {msgs, R"({"messages": "Hi"})", "\"messages\" must be a list of messages, got string"},
      {msgs, R"({"messages": []})", "\"messages\" is empty"},
      {msgs,
       R"({"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "s"}, {"role": "assistant", "content": "b"}]})",
       "system message 2 must come first"},
      {msgs,
       R"({"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "user", "content": "Yo"}]})",
       "layout conversational prompt-completion differs from the file's (messages, from line 1)"},
  };
  const std::vector<Bad> conversational = {
      {R"({"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "assistant", "content": "Yo"}]})",
       R"({"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "user", "content": "Yo"}]})",
       "\"completion\" has no assistant message: nothing to train on"},
      {R"({"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "assistant", "content": "Yo"}]})",
       R"({"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "robot", "content": "Yo"}]})",
       "unknown role \"robot\" in \"completion\" message 1 (expected system, user or assistant)"},
      {R"({"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "assistant", "content": "Yo"}]})",
       R"({"prompt": "Hi", "completion": [{"role": "assistant", "content": "Yo"}]})",
       "\"prompt\" must be a list of messages, got string"},
  };
  std::vector<Bad> all = catalogue;
  all.insert(all.end(), conversational.begin(), conversational.end());

  for (size_t k = 0; k < all.size(); ++k) {
    const Bad& c = all[k];
    INFO("case " << k << ": " << c.reason);
    const std::string path = write_jsonl("bad.jsonl", {c.good, c.bad, c.good});
    SftDataOptions options;
    options.chat_template = ChatTemplate::llama2;  // the strictest about message order
    CHECK_THROWS_WITH(read(path, options), StartsWith(path + ":2: " + c.reason));
    options.on_bad_line = BadLinePolicy::skip;
    const SftDataset data = read(path, options);
    CHECK(data.stats.lines == 3);
    CHECK(data.stats.skipped_bad == 1);
    CHECK(data.stats.examples == 2);
    REQUIRE(data.stats.skipped_reasons.size() == 1);
    CHECK_THAT(data.stats.skipped_reasons[0], StartsWith(path + ":2: " + c.reason));
    CHECK(data.examples[0].line == 1);
    CHECK(data.examples[1].line == 3);
  }
}

TEST_CASE("skip: the first five reasons kept, the layout set by the first line that has one") {
  const std::string path =
      write_jsonl("skips.jsonl", {"not json", "", R"({"text": ""})", R"([])", R"({"text": "One."})",
                                  R"({"text": 1})", R"({"prompt": "a", "completion": "b"})", "{",
                                  "{", R"({"text": "Two."})"});
  SftDataOptions options;
  options.on_bad_line = BadLinePolicy::skip;
  const SftDataset data = read(path, options);
  CHECK(data.stats.lines == 9);
  CHECK(data.stats.skipped_bad == 7);
  CHECK(data.stats.examples == 2);
  CHECK(data.stats.layout == "text");
  REQUIRE(data.stats.skipped_reasons.size() == 5);
  CHECK_THAT(data.stats.skipped_reasons[0], StartsWith(path + ":1: not valid JSON"));
  CHECK_THAT(data.stats.skipped_reasons[1], Equals(path + ":3: \"text\" is empty"));
  CHECK_THAT(data.stats.skipped_reasons[4],
             Equals(path + ":7: layout prompt-completion differs from the file's (text, from "
                           "line 3)"));
  CHECK(data.examples[0].line == 5);
  CHECK(data.examples[1].line == 10);
}

TEST_CASE("files with no usable example") {
  using zili::test::scratch;
  SftDataOptions skip;
  skip.on_bad_line = BadLinePolicy::skip;
  const std::string empty = write_jsonl("empty.jsonl", {});
  CHECK_THROWS_WITH(read(empty), StartsWith(empty + ": no examples (the file has no non-blank "
                                                    "line); expected JSON lines {\"text\": ...}"));
  const std::string blank = write_jsonl("blank.jsonl", {"", "  ", "\t"});
  CHECK_THROWS_WITH(read(blank, skip), StartsWith(blank + ": no examples"));
  const std::string all_bad = write_jsonl("allbad.jsonl", {"nope", R"({"text": ""})"});
  CHECK_THROWS_WITH(read(all_bad, skip),
                    StartsWith(all_bad + ": no usable example: of 2 lines, 2 bad") &&
                        Contains("{\"messages\": [{\"role\": ..., \"content\": ...}, ...]}"));
  CHECK_THROWS_WITH(read(scratch() / "missing.jsonl"), Contains("missing.jsonl: cannot open"));
}

TEST_CASE("a byte order mark and CRLF line ends are accepted") {
  const std::string path = zili::test::scratch() / "bom.jsonl";
  zili::write_file_atomic(path, "\xEF\xBB\xBF{\"text\": \"One.\"}\r\n{\"text\": \"Two.\"}\r\n");
  const SftDataset data = read(path);
  REQUIRE(data.examples.size() == 2);
  CHECK(zili::test::plain_tokenizer().decode(data.examples[1].ids) == "Two.");
}

TEST_CASE("a prompt's ids alone: the start of the whole sequence, no EOS added") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const std::vector<Message> prompt = {{"system", "Be brief."}, {"user", "What is two plus two?"}};
  for (const ChatTemplate c :
       {ChatTemplate::chatml, ChatTemplate::zephyr, ChatTemplate::llama2, ChatTemplate::plain}) {
    CAPTURE(chat_template_name(c));
    const std::vector<int64_t> alone = tokenize_prompt_parts(t, render_prompt(c, prompt));
    std::vector<ChatPart> whole = render_prompt(c, prompt);
    const auto reply = render_reply(c, "Four.");
    whole.insert(whole.end(), reply.begin(), reply.end());
    const TokenizedExample sequence = tokenize_parts(t, whole);
    REQUIRE(alone.size() < sequence.ids.size());
    CHECK(std::equal(alone.begin(), alone.end(), sequence.ids.begin()));
    CHECK(alone.back() != t.eos_id());
    // Where the prompt ends, the trained tokens begin.
    CHECK(sequence.target[alone.size() - 1] == 0);
    CHECK(sequence.target[alone.size()] == 1);
  }
}

TEST_CASE("a reply's end-of-turn ids: the marker when it is one piece, else none") {
  const Tokenizer& chatml = zili::test::chatml_tokenizer();  // "<|im_end|>" is piece 4
  CHECK(end_of_turn_ids(ChatTemplate::chatml, chatml) == std::vector<int64_t>{4});
  // Without the piece the marker is ordinary text: nothing to stop at but EOS.
  CHECK(end_of_turn_ids(ChatTemplate::chatml, zili::test::plain_tokenizer()).empty());
  // Templates whose replies end with EOS itself add nothing.
  for (const ChatTemplate t : {ChatTemplate::zephyr, ChatTemplate::llama2, ChatTemplate::mistral,
                               ChatTemplate::alpaca, ChatTemplate::plain})
    CHECK(end_of_turn_ids(t, chatml).empty());
}

TEST_CASE("a rendered chat is encoded with its special pieces as ids, no BOS added") {
  const Tokenizer& t = zili::test::chatml_tokenizer();
  const std::string im_start = "<|im_start|>", im_end = "<|im_end|>";
  const std::string text = "<s>" + im_start + "user\nHi there" + im_end + "\n";
  const std::vector<int64_t> ids = t.encode_rendered(text);
  // By hand: BOS, <|im_start|>, the text "user\nHi there" without the dummy prefix (only
  // text at the very start gets it, as transformers' Metaspace prepend_scheme "first"),
  // <|im_end|>, then "\n".
  const std::vector<int64_t> expected = concat({{t.bos_id()},
                                                t.encode_rendered(im_start),
                                                t.encode_continuation("user\nHi there"),
                                                t.encode_rendered(im_end),
                                                t.encode_continuation("\n")});
  CHECK(ids == expected);
  CHECK(t.encode_rendered(im_start).size() == 1);
  CHECK(t.encode_rendered("Hi") == t.encode("Hi", false));  // at the start: the dummy prefix
  CHECK(t.encode_rendered("").empty());
}
