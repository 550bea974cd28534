// Chat templates built in by name (llama2, mistral, chatml, zephyr, alpaca, plain): a
// conversation is rendered to a list of parts, each marked as template text or content and
// as trained on (assistant replies) or not. Tokenizing the parts is sft_data's job.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace zili::data {

enum class ChatTemplate { llama2, mistral, chatml, zephyr, alpaca, plain };

// "llama2" -> ChatTemplate::llama2; zili::Error listing the names otherwise.
ChatTemplate parse_chat_template(const std::string& name);
const char* chat_template_name(ChatTemplate t);

// The named template a tokenizer_config.json "chat_template" (Jinja text) corresponds to,
// recognised by its markers ("<|im_start|>" chatml, "<|assistant|>" zephyr, "<<SYS>>" llama2,
// "[INST]" mistral, "### Instruction" alpaca); nullopt when none of them.
std::optional<ChatTemplate> recognise_chat_template(const std::string& jinja);

// The strings a template writes that a tokenizer made for it holds as whole pieces
// ("<|im_start|>", "<|im_end|>" for chatml; zephyr's role headers): empty for the templates
// whose markers are plain text or BOS/EOS.
std::vector<std::string> chat_template_marker_pieces(ChatTemplate t);

// Jinja text for a tokenizer_config.json "chat_template" that transformers'
// apply_chat_template renders as render_conversation / render_prompt do (BOS first; one
// difference: Jinja also writes the "\n" after the last message), and that
// recognise_chat_template recognises. chatml and zephyr only; zili::Error for the others.
std::string chat_template_jinja(ChatTemplate t);

struct Message {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// One piece of a rendered sequence, in order.
struct ChatPart {
  enum class Kind { text, bos, eos };
  Kind kind = Kind::text;
  std::string text;            // for Kind::text
  bool trainable = false;      // an assistant reply (or completion): the loss covers it
  bool from_template = false;  // written by the template, not the user's content: only here
                               // may special-token strings ("<|im_end|>") become their ids
};

// The whole conversation. Every assistant message is trainable, including its end-of-turn
// marker (EOS for llama2/mistral/zephyr, "<|im_end|>" for chatml, EOS for alpaca/plain);
// the sequence starts with BOS. zili::Error with the reason when the messages do not fit the
// template (unknown role, system not first, llama2/mistral/alpaca turns not alternating
// user/assistant, no assistant message). trainable_from: assistant messages before this
// index are rendered but not trained on (the prompt of a conversational prompt-completion
// example, which must then have an assistant message at or after it).
std::vector<ChatPart> render_conversation(ChatTemplate t, const std::vector<Message>& messages,
                                          size_t trainable_from = 0);

// A prompt (messages ending with a user turn) followed by the assistant header that starts
// the reply (the "generation prompt"): never trainable.
std::vector<ChatPart> render_prompt(ChatTemplate t, const std::vector<Message>& prompt);
// The reply to such a prompt: its content and end-of-turn marker, trainable.
std::vector<ChatPart> render_reply(ChatTemplate t, const std::string& content);
// render_prompt(t, p) followed by render_reply(t, c) equals
// render_conversation(t, p + [{assistant, c}], p.size()), part for part.

// The parts as one string, BOS and EOS written as the given strings: what a chat template
// engine would print ("<s>[INST] Hi [/INST] Hello </s>").
std::string join_parts(const std::vector<ChatPart>& parts, const std::string& bos = "<s>",
                       const std::string& eos = "</s>");

}  // namespace zili::data
