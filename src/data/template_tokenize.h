// SFT examples and DPO pairs through the model's own Jinja chat template, tokenized as TRL
// tokenizes them: each conversation rendered to text (with the generation prompt for a
// prompt), encoded with no specials added (the template writes its own BOS), and the
// completion found where the token ids of the prompt and of prompt + completion part
// (trl.data_utils.common_prefix_length). The end of a reply is the template's own end-of-turn
// marker ("<|eot_id|>", "<|im_end|>\n"); no EOS is added.
#pragma once

#include <nlohmann/json.hpp>

#include "data/model_chat_template.h"
#include "data/preference_data.h"
#include "data/sft_data.h"
#include "data/tokenizer.h"

namespace zili::data {

// The messages of a line's key checked for the template: a non-empty list of objects, each
// with a string "role" and a string "content" (null allowed beside "tool_calls"); zili::Error
// with the reason otherwise. where: how a message is named ("\"prompt\" message").
const nlohmann::ordered_json& template_messages(const nlohmann::ordered_json& object,
                                                const char* key, const std::string& where);

// {"messages": [...]}: every assistant message is trained on, each found as TRL's
// prompt-completion finds a completion: render the messages before it with the generation
// prompt, render them with it, and the tokens where the two differ up to where the latter
// stops being a prefix of the whole conversation's are the reply.
TokenizedExample template_messages_example(const ModelChatTemplate& chat,
                                           const Tokenizer& tokenizer,
                                           const nlohmann::ordered_json& object);

// {"prompt": [...], "completion": [...]}: TRL's SFT tokenize_fn for conversational
// prompt-completion data; the completion is trained on.
TokenizedExample template_completion_example(const ModelChatTemplate& chat,
                                             const Tokenizer& tokenizer,
                                             const nlohmann::ordered_json& object);

// {"prompt": [...], "chosen": [...], "rejected": [...]} or, with the prompt implicit,
// {"chosen": [...], "rejected": [...]} (the prompt is the messages both begin with): TRL's
// DPOTrainer tokenize_fn; the prompt is the shorter of the common prefixes.
TokenizedPair template_pair(const ModelChatTemplate& chat, const Tokenizer& tokenizer,
                            const nlohmann::ordered_json& object);

// The special token a reply ends with in this template ("<|eot_id|>", "<|im_end|>"), found by
// rendering a one-turn conversation: a generated reply stops there. Empty when the text after
// a reply does not start with one of the tokenizer's special pieces.
std::vector<int64_t> template_end_of_turn_ids(const ModelChatTemplate& chat,
                                              const Tokenizer& tokenizer);

}  // namespace zili::data
