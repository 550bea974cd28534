// The Jinja-template path of SFT and DPO data, written after TRL 1.16's tokenize_fn of
// SFTTrainer and DPOTrainer (trl/trainer/sft_trainer.py, dpo_trainer.py) and its helpers
// apply_chat_template and common_prefix_length (trl/data_utils.py): what TRL trains on, token
// for token, where zili's built-in templates have their own rules (sft_data.h).
#include "data/template_tokenize.h"

#include <algorithm>

#include "util/error.h"

namespace zili::data {

using nlohmann::ordered_json;

namespace {

// trl.data_utils.common_prefix_length: how many leading ids a and b share.
size_t common_prefix(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  return std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin();
}

// What a line passes to the template besides its messages: "tools" (a list, or a JSON string
// holding one, as TRL reads it) and "chat_template_kwargs" (variables such as
// enable_thinking); null when absent.
struct LineExtras {
  ordered_json tools, kwargs;
};

LineExtras extras_of(const ordered_json& object) {
  LineExtras extras;
  if (const auto it = object.find("tools"); it != object.end() && !it->is_null()) {
    extras.tools = *it;
    if (extras.tools.is_string()) {
      extras.tools = ordered_json::parse(extras.tools.get<std::string>(), nullptr, false);
      if (extras.tools.is_discarded()) fail("\"tools\" is a string that is not valid JSON");
    }
    if (!extras.tools.is_array())
      fail("\"tools\" must be a list of tool schemas, got {}", extras.tools.type_name());
  }
  if (const auto it = object.find("chat_template_kwargs"); it != object.end() && !it->is_null()) {
    if (!it->is_object()) fail("\"chat_template_kwargs\" must be an object");
    extras.kwargs = *it;
  }
  return extras;
}

// The ids of messages rendered by the template (TRL's _tokenize: apply_chat_template with
// tokenize=True, which encodes the text without adding specials).
std::vector<int64_t> render_ids(const ModelChatTemplate& chat, const Tokenizer& tokenizer,
                                const ordered_json& messages, bool add_generation_prompt,
                                const LineExtras& extras) {
  return tokenizer.encode_rendered(
      chat.render_text(messages, add_generation_prompt, extras.tools, extras.kwargs));
}

ordered_json first(const ordered_json& list, size_t count) {
  return ordered_json(list.begin(), list.begin() + static_cast<ptrdiff_t>(count));
}

ordered_json concat(const ordered_json& a, const ordered_json& b) {
  ordered_json out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

bool has_assistant(const ordered_json& messages) {
  return std::any_of(messages.begin(), messages.end(),
                     [](const ordered_json& m) { return m.at("role") == "assistant"; });
}

void require_prompt_end(const ordered_json& prompt, const char* what) {
  const std::string last = prompt.back().at("role").get<std::string>();
  if (last != "user" && last != "tool")
    fail(
        "{} ends with a {} message; it must end with a user (or tool) message, the turn the "
        "reply answers",
        what, last);
}

}  // namespace

const ordered_json& template_messages(const ordered_json& object, const char* key,
                                      const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end()) fail("missing key \"{}\"", key);
  const ordered_json& list = *it;
  if (!list.is_array()) fail("\"{}\" must be a list of messages, got {}", key, list.type_name());
  if (list.empty()) fail("\"{}\" is empty", key);
  for (size_t i = 0; i < list.size(); ++i) {
    const ordered_json& m = list[i];
    if (!m.is_object())
      fail("{} {} must be an object with \"role\" and \"content\", got {}", where, i + 1,
           m.type_name());
    if (!m.contains("role") || !m.at("role").is_string())
      fail("{} {} needs a string \"role\"", where, i + 1);
    const bool calls_tools = m.contains("tool_calls");
    if (!m.contains("content") && !calls_tools) fail("{} {} has no \"content\"", where, i + 1);
    if (m.contains("content") && !m.at("content").is_string() &&
        !(calls_tools && m.at("content").is_null()))
      fail("\"content\" of {} {} must be a string, got {}", where, i + 1,
           m.at("content").type_name());
  }
  return list;
}

TokenizedExample template_messages_example(const ModelChatTemplate& chat,
                                           const Tokenizer& tokenizer, const ordered_json& object) {
  const ordered_json& messages = template_messages(object, "messages", "message");
  if (!has_assistant(messages)) fail("\"messages\" has no assistant message: nothing to train on");
  const LineExtras extras = extras_of(object);
  TokenizedExample example;
  example.ids = render_ids(chat, tokenizer, messages, false, extras);
  example.target.assign(example.ids.size(), 0);
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].at("role") != "assistant") continue;
    // The reply to messages[0..i): where the prompt with its generation prompt and the
    // conversation up to the reply part, up to where that stops being the whole's prefix.
    const std::vector<int64_t> prompt =
        render_ids(chat, tokenizer, first(messages, i), true, extras);
    const std::vector<int64_t> upto =
        render_ids(chat, tokenizer, first(messages, i + 1), false, extras);
    const size_t begin = common_prefix(prompt, upto);
    const size_t end = std::min(upto.size(), common_prefix(upto, example.ids));
    for (size_t t = begin; t < end; ++t) example.target[t] = 1;
  }
  if (example.target_count() == 0)
    fail("{}: no assistant tokens: the template renders no reply text for this conversation",
         chat.origin());
  if (!example.target.empty()) example.target[0] = 0;  // nothing before it predicts it
  return example;
}

TokenizedExample template_completion_example(const ModelChatTemplate& chat,
                                             const Tokenizer& tokenizer,
                                             const ordered_json& object) {
  const ordered_json& prompt = template_messages(object, "prompt", "\"prompt\" message");
  const ordered_json& completion =
      template_messages(object, "completion", "\"completion\" message");
  if (!has_assistant(completion))
    fail("\"completion\" has no assistant message: nothing to train on");
  require_prompt_end(prompt, "\"prompt\"");
  const LineExtras extras = extras_of(object);
  const std::vector<int64_t> prompt_ids = render_ids(chat, tokenizer, prompt, true, extras);
  TokenizedExample example;
  example.ids = render_ids(chat, tokenizer, concat(prompt, completion), false, extras);
  const size_t prompt_length = common_prefix(prompt_ids, example.ids);
  example.target.assign(example.ids.size(), 0);
  std::fill(example.target.begin() + static_cast<ptrdiff_t>(prompt_length), example.target.end(),
            uint8_t{1});
  if (!example.target.empty()) example.target[0] = 0;
  if (example.target_count() == 0)
    fail("{}: the completion renders to no tokens after the prompt", chat.origin());
  return example;
}

TokenizedPair template_pair(const ModelChatTemplate& chat, const Tokenizer& tokenizer,
                            const ordered_json& object) {
  const LineExtras extras = extras_of(object);
  ordered_json prompt, chosen, rejected;
  if (object.contains("prompt")) {
    prompt = template_messages(object, "prompt", "\"prompt\" message");
    chosen = template_messages(object, "chosen", "\"chosen\" message");
    rejected = template_messages(object, "rejected", "\"rejected\" message");
  } else {
    // trl.data_utils.extract_prompt: the messages both lists begin with.
    const ordered_json& all_chosen = template_messages(object, "chosen", "\"chosen\" message");
    const ordered_json& all_rejected =
        template_messages(object, "rejected", "\"rejected\" message");
    const size_t shared = std::mismatch(all_chosen.begin(), all_chosen.end(), all_rejected.begin(),
                                        all_rejected.end())
                              .first -
                          all_chosen.begin();
    if (shared == 0) fail("\"chosen\" and \"rejected\" share no leading message: no prompt");
    if (shared == all_chosen.size() || shared == all_rejected.size())
      fail("\"chosen\" and \"rejected\" are the same, or one is the start of the other");
    prompt = first(all_chosen, shared);
    chosen = ordered_json(all_chosen.begin() + static_cast<ptrdiff_t>(shared), all_chosen.end());
    rejected =
        ordered_json(all_rejected.begin() + static_cast<ptrdiff_t>(shared), all_rejected.end());
  }
  require_prompt_end(prompt, "the prompt");
  const std::vector<int64_t> prompt_ids = render_ids(chat, tokenizer, prompt, true, extras);
  const std::vector<int64_t> with_chosen =
      render_ids(chat, tokenizer, concat(prompt, chosen), false, extras);
  const std::vector<int64_t> with_rejected =
      render_ids(chat, tokenizer, concat(prompt, rejected), false, extras);
  const size_t prompt_length =
      std::min(common_prefix(prompt_ids, with_chosen), common_prefix(prompt_ids, with_rejected));
  TokenizedPair pair;
  pair.prompt.assign(prompt_ids.begin(),
                     prompt_ids.begin() + static_cast<ptrdiff_t>(prompt_length));
  pair.chosen.assign(with_chosen.begin() + static_cast<ptrdiff_t>(prompt_length),
                     with_chosen.end());
  pair.rejected.assign(with_rejected.begin() + static_cast<ptrdiff_t>(prompt_length),
                       with_rejected.end());
  if (pair.chosen.empty() || pair.rejected.empty())
    fail("{}: a completion renders to no tokens after the prompt", chat.origin());
  if (pair.chosen == pair.rejected)
    fail("\"chosen\" and \"rejected\" render to the same tokens: no preference to learn");
  return pair;
}

std::vector<int64_t> template_end_of_turn_ids(const ModelChatTemplate& chat,
                                              const Tokenizer& tokenizer) {
  const std::string reply = "zili-end-of-turn-probe";
  const ordered_json messages = {{{"role", "user"}, {"content", "Hi"}},
                                 {{"role", "assistant"}, {"content", reply}}};
  std::string text;
  try {
    text = chat.render_text(messages, false);
  } catch (const Error&) {
    return {};  // a template that needs more (a system message, tools): no stop besides EOS
  }
  const size_t at = text.rfind(reply);
  if (at == std::string::npos) return {};
  const std::string after = text.substr(at + reply.size());
  for (const auto& special : tokenizer.special_pieces())
    if (after.compare(0, special.text.size(), special.text) == 0) return {special.id};
  return {};
}

}  // namespace zili::data
