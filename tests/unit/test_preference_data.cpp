// Preference data files: each TRL layout tokenized as one prompt shared by both completions
// with EOS exactly once, the implicit prompt of texts and of message lists, truncation and
// dropping to the max length, the bad-line catalogue, and pair batches on a hand-made example.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "data/pair_batching.h"
#include "data/preference_data.h"
#include "data_fixtures.h"
#include "util/atomic_file.h"
#include "util/error.h"

using namespace zili::data;
using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;
using zili::test::concat;

namespace {

std::string write_jsonl(const std::string& name, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  const std::string path = zili::test::scratch() / name;
  zili::write_file_atomic(path, text);
  return path;
}

PreferenceDataset read(const std::string& path, PreferenceDataOptions options = {}) {
  return read_preference_data(path, zili::test::plain_tokenizer(), options);
}

// The whole chosen or rejected sequence: prompt + completion.
std::vector<int64_t> sequence(const TokenizedPair& pair, bool chosen) {
  return concat({pair.prompt, chosen ? pair.chosen : pair.rejected});
}

// EOS at the end of a completion and not right before it.
bool ends_with_one_eos(const std::vector<int64_t>& completion, int64_t eos) {
  return completion.size() >= 2 && completion.back() == eos &&
         completion[completion.size() - 2] != eos;
}

const std::string kUserHi = R"({"role": "user", "content": "What is two plus two?"})";
std::string assistant(const std::string& content) {
  return R"({"role": "assistant", "content": ")" + content + R"("})";
}

}  // namespace

TEST_CASE("prompt-chosen-rejected: the prompt shared, each completion as SFT tokenizes it") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const std::string path = write_jsonl(
      "plain.jsonl",
      {R"({"prompt": "Q: How much is 2 plus 3?\nA:", "chosen": " 5", "rejected": " 6 or so"})"});
  const PreferenceDataset data = read(path);
  CHECK(data.stats.layout == "prompt-chosen-rejected");
  CHECK(data.stats.lines == 1);
  REQUIRE(data.stats.pairs == 1);
  const TokenizedPair& pair = data.pairs[0];
  CHECK(pair.line == 1);
  CHECK_FALSE(pair.truncated);
  CHECK(pair.prompt == concat({{t.bos_id()}, t.encode("Q: How much is 2 plus 3?\nA:", false)}));
  CHECK(pair.chosen == concat({t.encode_continuation(" 5"), {t.eos_id()}}));
  CHECK(pair.rejected == concat({t.encode_continuation(" 6 or so"), {t.eos_id()}}));
  // The same ids as SFT's prompt-completion line.
  const TokenizedExample sft =
      tokenize_parts(t, {{ChatPart::Kind::bos, "", false, true},
                         {ChatPart::Kind::text, "Q: How much is 2 plus 3?\nA:", false, false},
                         {ChatPart::Kind::text, " 5", true, false}});
  CHECK(sequence(pair, true) == sft.ids);
  CHECK(t.decode(sequence(pair, false)) == "Q: How much is 2 plus 3?\nA: 6 or so");
}

TEST_CASE("implicit prompt of two texts: the token ids both begin with") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const auto whole = [&](const std::string& text) {
    return concat({{t.bos_id()}, t.encode(text, false), {t.eos_id()}});
  };
  SECTION("parting at a word: the prompt is the question") {
    const std::string path = write_jsonl(
        "implicit.jsonl",
        {R"({"chosen": "Q: What is two plus two?\nA: Four.", "rejected": "Q: What is two plus two?\nA: Six."})"});
    const PreferenceDataset data = read(path);
    CHECK(data.stats.layout == "implicit prompt");
    REQUIRE(data.pairs.size() == 1);
    const TokenizedPair& pair = data.pairs[0];
    CHECK(sequence(pair, true) == whole("Q: What is two plus two?\nA: Four."));
    CHECK(sequence(pair, false) == whole("Q: What is two plus two?\nA: Six."));
    CHECK(t.decode(pair.prompt) == "Q: What is two plus two?\nA:");
    CHECK(pair.chosen.front() != pair.rejected.front());
    CHECK(ends_with_one_eos(pair.chosen, t.eos_id()));
    CHECK(ends_with_one_eos(pair.rejected, t.eos_id()));
  }
  SECTION("parting inside a word: cut at a token boundary, the sequences the texts' own") {
    const std::string path =
        write_jsonl("implicit-word.jsonl",
                    {R"({"chosen": "The sky is blue.", "rejected": "The sky is black."})"});
    const TokenizedPair pair = read(path).pairs.at(0);
    CHECK(sequence(pair, true) == whole("The sky is blue."));
    CHECK(sequence(pair, false) == whole("The sky is black."));
    const std::string prompt = t.decode(pair.prompt);
    CHECK_THAT(prompt, StartsWith("The sky is"));
    CHECK(std::string("The sky is bl").rfind(prompt, 0) == 0);  // a prefix of the shared text
  }
  SECTION("nothing shared but BOS: an empty prompt") {
    const TokenizedPair pair =
        read(write_jsonl("implicit-bos.jsonl", {R"({"chosen": "Yes.", "rejected": "No."})"}))
            .pairs.at(0);
    CHECK(pair.prompt == std::vector<int64_t>{t.bos_id()});
    CHECK(sequence(pair, true) == whole("Yes."));
    CHECK(sequence(pair, false) == whole("No."));
  }
}

TEST_CASE("conversational: the template's prompt and reply, the prompt ids shared") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const std::vector<std::string> lines = {
      R"({"prompt": [{"role": "system", "content": "Be brief."}, )" + kUserHi +
      R"(], "chosen": [)" + assistant("Four.") + R"(], "rejected": [)" + assistant("Five.") + "]}"};
  const std::vector<Message> prompt = {{"system", "Be brief."}, {"user", "What is two plus two?"}};
  for (const char* name : {"llama2", "mistral", "chatml", "zephyr", "alpaca", "plain"}) {
    INFO(name);
    PreferenceDataOptions options;
    options.chat_template = parse_chat_template(name);
    const PreferenceDataset data = read(write_jsonl("conv.jsonl", lines), options);
    CHECK(data.stats.layout == "conversational prompt-chosen-rejected");
    REQUIRE(data.pairs.size() == 1);
    const TokenizedPair& pair = data.pairs[0];
    for (const bool chosen : {true, false}) {
      std::vector<ChatPart> parts = render_prompt(options.chat_template, prompt);
      const auto reply = render_reply(options.chat_template, chosen ? "Four." : "Five.");
      parts.insert(parts.end(), reply.begin(), reply.end());
      const TokenizedExample want = tokenize_parts(t, parts);
      CHECK(sequence(pair, chosen) == want.ids);
      // The completion is exactly what SFT trains on for this prompt and reply.
      CHECK(static_cast<int64_t>((chosen ? pair.chosen : pair.rejected).size()) ==
            want.target_count());
    }
    CHECK(ends_with_one_eos(pair.chosen, t.eos_id()));
    CHECK(ends_with_one_eos(pair.rejected, t.eos_id()));
  }
}

TEST_CASE("conversational implicit prompt: the leading messages both lists share") {
  const std::string history =
      R"({"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}, )";
  const std::string implicit =
      write_jsonl("conv-implicit.jsonl",
                  {R"({"chosen": [)" + history + kUserHi + ", " + assistant("Four.") +
                   R"(], "rejected": [)" + history + kUserHi + ", " + assistant("Five.") + "]}"});
  const std::string explicit_ =
      write_jsonl("conv-explicit.jsonl",
                  {R"({"prompt": [)" + history + kUserHi + R"(], "chosen": [)" +
                   assistant("Four.") + R"(], "rejected": [)" + assistant("Five.") + "]}"});
  PreferenceDataOptions options;
  options.chat_template = ChatTemplate::llama2;
  const PreferenceDataset a = read(implicit, options);
  const PreferenceDataset b = read(explicit_, options);
  CHECK(a.stats.layout == "conversational implicit prompt");
  REQUIRE(a.pairs.size() == 1);
  REQUIRE(b.pairs.size() == 1);
  CHECK(a.pairs[0].prompt == b.pairs[0].prompt);
  CHECK(a.pairs[0].chosen == b.pairs[0].chosen);
  CHECK(a.pairs[0].rejected == b.pairs[0].rejected);
}

TEST_CASE("EOS once with an EOS that is the template's end-of-turn marker") {
  // chatml with eos_token "<|im_end|>": the reply's marker is the EOS, none is added.
  const Tokenizer& t = zili::test::im_end_eos_tokenizer();
  PreferenceDataOptions options;
  options.chat_template = ChatTemplate::chatml;
  const std::string path = write_jsonl(
      "im-end.jsonl", {"{\"prompt\": [" + kUserHi + "], \"chosen\": [" + assistant("Four.") +
                       "], \"rejected\": [" + assistant("Five <|im_end|> typed.") + "]}"});
  const PreferenceDataset data = read_preference_data(path, t, options);
  REQUIRE(data.pairs.size() == 1);
  const TokenizedPair& pair = data.pairs[0];
  CHECK(ends_with_one_eos(pair.chosen, t.eos_id()));
  CHECK(ends_with_one_eos(pair.rejected, t.eos_id()));
  // The typed marker stays text: one EOS id in the rejected completion.
  CHECK(std::count(pair.rejected.begin(), pair.rejected.end(), t.eos_id()) == 1);
}

TEST_CASE("max length: completions cut after the whole prompt, or the pair dropped") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const std::string prompt_text = "Q: Name the colour of the sky.\nA:";
  const auto prompt = concat({{t.bos_id()}, t.encode(prompt_text, false)});
  const auto chosen = concat(
      {t.encode_continuation(" It is blue on a clear day, grey in the rain."), {t.eos_id()}});
  const auto rejected = concat({t.encode_continuation(" No."), {t.eos_id()}});
  const auto P = static_cast<int64_t>(prompt.size());
  const auto C = static_cast<int64_t>(chosen.size());
  const auto R = static_cast<int64_t>(rejected.size());
  REQUIRE(C > R + 2);
  REQUIRE(chosen[0] != rejected[0]);
  const std::string path = write_jsonl(
      "long.jsonl",
      {R"({"prompt": "Q: Name the colour of the sky.\nA:", "chosen": " It is blue on a clear day, grey in the rain.", "rejected": " No."})",
       R"({"prompt": "Hi", "chosen": " Yo", "rejected": " No"})"});
  PreferenceDataOptions options;

  SECTION("the longer sequence exactly max length: kept whole") {
    options.max_length = P + C;
    const PreferenceDataset data = read(path, options);
    CHECK(data.stats.truncated == 0);
    CHECK(data.pairs[0].chosen == chosen);
    CHECK_FALSE(data.pairs[0].truncated);
  }
  SECTION("truncated: the prompt whole, only the completion that is too long cut") {
    options.max_length = P + R + 1;
    const PreferenceDataset data = read(path, options);
    CHECK(data.stats.pairs == 2);
    CHECK(data.stats.truncated == 1);
    CHECK(data.stats.dropped_overlong == 0);
    const TokenizedPair& pair = data.pairs[0];
    CHECK(pair.truncated);
    CHECK(pair.prompt == prompt);
    CHECK(pair.chosen == std::vector<int64_t>(chosen.begin(), chosen.begin() + R + 1));
    CHECK(pair.chosen.back() != t.eos_id());
    CHECK(pair.rejected == rejected);
    CHECK(pair.chosen_length() == options.max_length);
    CHECK_FALSE(data.pairs[1].truncated);
  }
  SECTION("drop_overlong: every overlong pair dropped") {
    options.max_length = P + C - 1;
    options.drop_overlong = true;
    const PreferenceDataset data = read(path, options);
    CHECK(data.stats.pairs == 1);
    CHECK(data.stats.dropped_overlong == 1);
    CHECK(data.stats.truncated == 0);
    CHECK(data.pairs[0].line == 2);
  }
  SECTION("a prompt that leaves no room: a bad line naming the lengths and --drop-overlong") {
    options.max_length = P;
    CHECK_THROWS_WITH(read(path, options),
                      Equals(fmt::format("{}:1: the prompt has {} tokens: --max-length {} leaves "
                                         "no room for a completion (the chosen sequence has {} "
                                         "tokens, the rejected {}); raise --max-length, or pass "
                                         "--drop-overlong to drop such pairs",
                                         path, P, P, P + C, P + R)));
    options.on_bad_line = BadLinePolicy::skip;
    const PreferenceDataset skipped = read(path, options);
    CHECK(skipped.stats.skipped_bad == 1);
    CHECK(skipped.stats.pairs == 1);
    options.drop_overlong = true;  // the same pair is simply overlong then
    const PreferenceDataset dropped = read(path, options);
    CHECK(dropped.stats.skipped_bad == 0);
    CHECK(dropped.stats.dropped_overlong == 1);
  }
  SECTION("nothing fits: an error naming the file") {
    options.max_length = 3;
    options.drop_overlong = true;
    CHECK_THROWS_WITH(read(path, options), StartsWith(path + ": no usable preference pair") &&
                                               Contains("2 longer than the max length 3"));
  }
}

TEST_CASE("max length: completions the same once cut are a bad line") {
  const Tokenizer& t = zili::test::plain_tokenizer();
  const std::string path = write_jsonl(
      "same-cut.jsonl",
      {R"({"prompt": "Q: Sky?\nA:", "chosen": " It is blue.", "rejected": " It is green."})"});
  const auto prompt = concat({{t.bos_id()}, t.encode("Q: Sky?\nA:", false)});
  const auto chosen = concat({t.encode_continuation(" It is blue."), {t.eos_id()}});
  const auto rejected = concat({t.encode_continuation(" It is green."), {t.eos_id()}});
  const auto differ =
      std::mismatch(chosen.begin(), chosen.end(), rejected.begin()).first - chosen.begin();
  REQUIRE(differ >= 2);
  PreferenceDataOptions options;
  options.max_length = static_cast<int64_t>(prompt.size()) + differ;  // the shared words only
  CHECK_THROWS_WITH(read(path, options),
                    StartsWith(path + ":1: the chosen and rejected sequences") &&
                        Contains(fmt::format("first differ at token {}, past --max-length {}",
                                             prompt.size() + differ + 1, options.max_length)) &&
                        EndsWith("raise --max-length, or pass --drop-overlong to drop such pairs"));
  options.max_length += 1;  // one differing token: kept
  const PreferenceDataset data = read(path, options);
  CHECK(data.pairs.at(0).truncated);
  CHECK(data.pairs[0].chosen.size() == static_cast<size_t>(differ) + 1);
}

TEST_CASE("the bad-line catalogue: FILE:LINE: reason, or counted and skipped") {
  struct Bad {
    std::string good;  // line 1, which sets the file's layout
    std::string bad;   // line 2
    std::string reason;
  };
  const std::string plain = R"({"prompt": "Hi", "chosen": " Yo", "rejected": " No"})";
  const std::string implicit = R"({"chosen": "Hi. Yo", "rejected": "Hi. No"})";
  const std::string user = R"({"role": "user", "content": "Hi"})";
  const std::string conv = "{\"prompt\": [" + user + "], \"chosen\": [" + assistant("Yo") +
                           "], \"rejected\": [" + assistant("No") + "]}";
  const std::string conv_implicit = "{\"chosen\": [" + user + ", " + assistant("Yo") +
                                    "], \"rejected\": [" + user + ", " + assistant("No") + "]}";
  const std::string same = "\"chosen\" and \"rejected\" are the same: no preference to learn";
  const std::vector<Bad> catalogue = {
      {plain, R"({"prompt": "Hi", "chosen": " Yo")",
       "not valid JSON (the line ends inside a value)"},
      {plain, "{\"prompt\": \"caf\xff\", \"chosen\": \"a\", \"rejected\": \"b\"}",
       "invalid UTF-8 at byte 16"},
      {plain, R"([1, 2])", "expected a JSON object, got array"},
      {plain, R"({"prompt": "Hi", "good": "a", "bad": "b"})",
       "no \"chosen\"/\"rejected\" keys; expected {\"prompt\": ..., \"chosen\": ..., \"rejected\": "
       "...} or {\"chosen\": ..., \"rejected\": ...}"},
      {plain, R"({"prompt": "Hi", "completion": " Yo"})",
       "no \"chosen\"/\"rejected\" keys (an SFT layout: zili dpo reads preference pairs)"},
      {plain, R"({"prompt": "Hi", "chosen": " Yo"})", "missing key \"rejected\""},
      {plain, R"({"prompt": 1, "chosen": " Yo", "rejected": " No"})",
       "\"prompt\" must be a string, got number"},
      {plain, R"({"prompt": "Hi", "chosen": " Yo", "rejected": null})",
       "\"rejected\" must be a string, got null"},
      {plain, R"({"prompt": "Hi", "chosen": "", "rejected": " No"})", "\"chosen\" is empty"},
      {plain, R"({"prompt": "Hi", "chosen": " Yo", "rejected": " Yo"})", same},
      {plain, implicit,
       "layout implicit prompt differs from the file's (prompt-chosen-rejected, from line 1)"},
      {implicit, R"({"chosen": "Hi. Yo", "rejected": "Hi. Yo"})", same},
      {implicit, R"({"chosen": "Hi.", "rejected": "Hi. No"})",
       "\"chosen\" is the start of \"rejected\": its completion after the prompt they share is "
       "empty"},
      {implicit, R"({"chosen": "Hi. Yo", "rejected": ""})", "\"rejected\" is empty"},
      {implicit, plain,
       "layout prompt-chosen-rejected differs from the file's (implicit prompt, from line 1)"},
      {conv,
       "{\"prompt\": [" + user + "], \"chosen\": [" + assistant("Yo") + "], \"rejected\": [" +
           assistant("Yo") + "]}",
       same},
      {conv,
       "{\"prompt\": [" + user + "], \"chosen\": [" + assistant("") + "], \"rejected\": [" +
           assistant("No") + "]}",
       "the \"chosen\" message is empty"},
      {conv,
       "{\"prompt\": [" + user + "], \"chosen\": [], \"rejected\": [" + assistant("No") + "]}",
       "\"chosen\" is empty"},
      {conv,
       "{\"prompt\": [" + user + "], \"chosen\": [" + assistant("Yo") + ", " + assistant("Yo") +
           "], \"rejected\": [" + assistant("No") + "]}",
       "\"chosen\" must be one assistant message, got 2 messages"},
      {conv,
       "{\"prompt\": [" + user + "], \"chosen\": [" + assistant("Yo") + "], \"rejected\": [" +
           user + "]}",
       "\"rejected\" must be one assistant message, got a \"user\" message"},
      {conv,
       "{\"prompt\": [" + user + "], \"chosen\": [" + assistant("Yo") +
           "], \"rejected\": [{\"role\": \"bot\", \"content\": \"No\"}]}",
       "unknown role \"bot\" in \"rejected\" message 1 (expected system, user or assistant)"},
      {conv,
       "{\"prompt\": [" + user + ", " + assistant("Yo") + "], \"chosen\": [" + assistant("Yo") +
           "], \"rejected\": [" + assistant("No") + "]}",
       "\"prompt\": a prompt must end with a user message (message 2 is \"assistant\")"},
      {conv,
       "{\"prompt\": [" + assistant("Yo") + ", " + user + "], \"chosen\": [" + assistant("Yo") +
           "], \"rejected\": [" + assistant("No") + "]}",
       "\"prompt\": message 1 is \"assistant\" where llama2 expects \"user\""},
      {conv,
       "{\"prompt\": [{\"role\": \"user\"}], \"chosen\": [" + assistant("Yo") +
           "], \"rejected\": [" + assistant("No") + "]}",
       "\"prompt\" message 1 has no \"content\""},
      {conv,
       "{\"prompt\": \"Hi\", \"chosen\": [" + assistant("Yo") + "], \"rejected\": [" +
           assistant("No") + "]}",
       "\"prompt\" must be a list of messages, got string"},
      {conv, conv_implicit,
       "layout conversational implicit prompt differs from the file's (conversational "
       "prompt-chosen-rejected, from line 1)"},
      {conv_implicit,
       "{\"chosen\": [" + user + ", " + assistant("Yo") + "], \"rejected\": [" + user + ", " +
           assistant("Yo") + "]}",
       same},
      {conv_implicit,
       "{\"chosen\": [" + user + "], \"rejected\": [" + user + ", " + assistant("No") + "]}",
       "\"chosen\" after the 1 message it shares with \"rejected\" must be one assistant message, "
       "got none"},
      {conv_implicit,
       "{\"chosen\": [" + user + ", " + assistant("Yo") + "], \"rejected\": [" + user + ", " +
           assistant("No") + ", " + user + ", " + assistant("No") + "]}",
       "\"rejected\" after the 1 message it shares with \"chosen\" must be one assistant message, "
       "got 3 messages"},
      {conv_implicit,
       "{\"chosen\": [" + assistant("Yo") + "], \"rejected\": [" + assistant("No") + "]}",
       "the prompt (the messages \"chosen\" and \"rejected\" share): a prompt must end with a user "
       "message (it has none)"},
  };
  for (size_t k = 0; k < catalogue.size(); ++k) {
    const Bad& c = catalogue[k];
    INFO("case " << k << ": " << c.reason);
    const std::string path = write_jsonl("bad.jsonl", {c.good, c.bad, c.good});
    PreferenceDataOptions options;
    options.chat_template = ChatTemplate::llama2;  // the strictest about message order
    CHECK_THROWS_WITH(read(path, options), StartsWith(path + ":2: " + c.reason));
    options.on_bad_line = BadLinePolicy::skip;
    const PreferenceDataset data = read(path, options);
    CHECK(data.stats.lines == 3);
    CHECK(data.stats.skipped_bad == 1);
    CHECK(data.stats.pairs == 2);
    REQUIRE(data.stats.skipped_reasons.size() == 1);
    CHECK_THAT(data.stats.skipped_reasons[0], StartsWith(path + ":2: " + c.reason));
    CHECK(data.pairs[0].line == 1);
    CHECK(data.pairs[1].line == 3);
  }
}

TEST_CASE("preference files with no usable pair") {
  PreferenceDataOptions skip;
  skip.on_bad_line = BadLinePolicy::skip;
  const std::string empty = write_jsonl("prefs-empty.jsonl", {"", " "});
  CHECK_THROWS_WITH(read(empty), StartsWith(empty + ": no preference pairs (the file has no "
                                                    "non-blank line); expected JSON lines"));
  const std::string sft = write_jsonl("prefs-sft.jsonl", {R"({"text": "Hi"})", "{"});
  CHECK_THROWS_WITH(read(sft, skip),
                    StartsWith(sft + ": no usable preference pair: of 2 lines, 2 bad"));
  std::vector<std::string> many(7, R"({"chosen": "a", "rejected": "a"})");
  many.push_back(R"({"chosen": "a b", "rejected": "a c"})");
  const PreferenceDataset data = read(write_jsonl("prefs-many.jsonl", many), skip);
  CHECK(data.stats.skipped_bad == 7);
  CHECK(data.stats.skipped_reasons.size() == 5);
  CHECK(data.pairs.at(0).line == 8);
}

TEST_CASE("pair batches: chosen rows then rejected rows, the loss on completions only") {
  // Pair 0: prompt [1 10 11], chosen [20 2], rejected [30 31 2].
  // Pair 1: prompt [1 12], chosen [21 22 23 2], rejected [32 2].
  std::vector<TokenizedPair> pairs(2);
  pairs[0] = {7, {1, 10, 11}, {20, 2}, {30, 31, 2}, false};
  pairs[1] = {9, {1, 12}, {21, 22, 23, 2}, {32, 2}, false};
  const int64_t pad = 0;
  const Batch batch = make_pair_batch(pairs, {1, 0}, pad);
  CHECK(batch.pairs == 2);
  // Rows: chosen of pair 1, chosen of pair 0, rejected of pair 1, rejected of pair 0.
  const auto tensor = [](std::vector<std::vector<int64_t>> rows) {
    torch::Tensor t = torch::zeros({static_cast<int64_t>(rows.size()), 6}, torch::kInt64);
    for (size_t r = 0; r < rows.size(); ++r)
      for (size_t c = 0; c < rows[r].size(); ++c) t[r][c] = rows[r][c];
    return t;
  };
  CHECK(torch::equal(batch.input_ids, tensor({{1, 12, 21, 22, 23, 2},
                                              {1, 10, 11, 20, 2, 0},
                                              {1, 12, 32, 2, 0, 0},
                                              {1, 10, 11, 30, 31, 2}})));
  CHECK(torch::equal(
      batch.attention_mask,
      tensor({{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 0}, {1, 1, 1, 1, 0, 0}, {1, 1, 1, 1, 1, 1}})));
  CHECK(torch::equal(
      batch.position_ids,
      tensor({{0, 1, 2, 3, 4, 5}, {0, 1, 2, 3, 4, 0}, {0, 1, 2, 3, 0, 0}, {0, 1, 2, 3, 4, 5}})));
  // Shifted labels: position t predicts token t+1; the pad id where nothing follows.
  CHECK(torch::equal(batch.labels, tensor({{12, 21, 22, 23, 2, 0},
                                           {10, 11, 20, 2, 0, 0},
                                           {12, 32, 2, 0, 0, 0},
                                           {10, 11, 30, 31, 2, 0}})));
  // The loss where the next token is a completion token: from the last prompt position.
  CHECK(torch::equal(
      batch.loss_mask,
      tensor({{0, 1, 1, 1, 1, 0}, {0, 0, 1, 1, 0, 0}, {0, 1, 1, 0, 0, 0}, {0, 0, 1, 1, 1, 0}})
          .to(torch::kBool)));
  CHECK(torch::equal(batch.completion_tokens, torch::tensor({4, 2, 2, 3}, torch::kInt64)));
  CHECK(batch.real_tokens == 6 + 5 + 4 + 6);
  CHECK(batch.target_tokens == 11);
  CHECK_FALSE(batch.segment_ids.defined());
  CHECK(batch.padded_tokens() == 24);
}

TEST_CASE("pair plans: plan_epoch on each pair's longer sequence") {
  std::vector<TokenizedPair> pairs;
  for (int64_t i = 0; i < 50; ++i)
    pairs.push_back({i + 1, std::vector<int64_t>(1 + i % 7, 1), std::vector<int64_t>(1 + i % 5, 2),
                     std::vector<int64_t>(1 + i % 3, 2), false});
  const std::vector<int64_t> lengths = pair_lengths(pairs);
  CHECK(lengths[4] == 5 + std::max(5, 2));
  CHECK(plan_pair_epoch(pairs, 4, 11, 2) == plan_epoch(lengths, 4, 11, 2, false, 100));
}

TEST_CASE("the bundled demo preference files read cleanly in every template") {
  const std::string dir = std::string(ZILI_SOURCE_DIR) + "/data/demo/";
  for (const char* name : {"llama2", "mistral", "chatml", "zephyr", "alpaca", "plain"}) {
    INFO(name);
    PreferenceDataOptions options;
    options.chat_template = parse_chat_template(name);
    const PreferenceDataset train = read(dir + "dpo-train.jsonl", options);
    const PreferenceDataset eval = read(dir + "dpo-eval.jsonl", options);
    CHECK(train.stats.layout == "conversational prompt-chosen-rejected");
    CHECK(train.stats.pairs == 300);
    CHECK(eval.stats.pairs == 40);
    CHECK(train.stats.truncated + eval.stats.truncated == 0);
  }
}
