// `zili generate`: continue a prompt, streaming the text to stdout as it is produced.
// Greedy at temperature 0, nucleus sampling otherwise; the KV cache makes each new token
// one single-position forward. With --chat the prompt is a user message, rendered with the
// model's chat template, and generation stops at the reply's end-of-turn marker.
#include <chrono>
#include <cstdio>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "data/chat_template.h"
#include "data/sft_data.h"
#include "data/template_tokenize.h"
#include "model/sampling.h"
#include "train/run_setup.h"
#include "util/error.h"

namespace zili::cli {
namespace {

struct GenerateOptions {
  ModelFlags model;
  std::string prompt;
  int max_new_tokens = 64;
  double temperature = 0.0;
  double top_p = 1.0;
  uint64_t seed = 0;
  bool chat = false;
  std::string system;
  std::string chat_template = "auto";
  int threads = 1;
};

struct PromptIds {
  std::vector<int64_t> ids;
  std::vector<int64_t> extra_stops;  // with --chat: the template's end-of-turn piece
};

// --prompt as raw text, or with --chat as a [system +] user message in the chat template,
// followed by the template's assistant header.
PromptIds prompt_ids(const GenerateOptions& options, const data::Tokenizer& tokenizer) {
  if (!options.chat) {
    if (!options.system.empty()) fail("--system needs --chat (a raw --prompt has no roles)");
    if (options.chat_template != "auto")
      fail("--chat-template needs --chat (a raw --prompt is not rendered)");
    return {tokenizer.encode(options.prompt), {}};
  }
  const train::ChatTemplateChoice choice =
      train::resolve_chat_template(options.chat_template, options.model.model_dir);
  train::log_chat_template(choice);
  if (choice.model_template) {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!options.system.empty())
      messages.push_back({{"role", "system"}, {"content", options.system}});
    messages.push_back({{"role", "user"}, {"content", options.prompt}});
    return {tokenizer.encode_rendered(choice.model_template->render_text(messages, true)),
            data::template_end_of_turn_ids(*choice.model_template, tokenizer)};
  }
  std::vector<data::Message> messages;
  if (!options.system.empty()) messages.push_back({"system", options.system});
  messages.push_back({"user", options.prompt});
  if (tokenizer.eos_id() < 0)
    fail(
        "{}: the tokenizer has no EOS token, which a chat template needs to end a reply "
        "(eos_token in tokenizer_config.json)",
        options.model.model_dir);
  PromptIds out;
  out.ids =
      data::tokenize_prompt_parts(tokenizer, data::render_prompt(choice.chat_template, messages));
  out.extra_stops = data::end_of_turn_ids(choice.chat_template, tokenizer);
  return out;
}

// Prints the part of the decoded text not printed yet. A trailing U+FFFD means a byte
// sequence is still incomplete (byte-fallback pieces), so it waits for the next token.
class TextStream {
 public:
  TextStream(const data::Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  void push(int64_t id) {
    ids_.push_back(id);
    print(/*final=*/false);
  }
  // Prints what is left, incomplete byte sequences included.
  void finish() { print(/*final=*/true); }

 private:
  void print(bool final) {
    const std::string text = tokenizer_.decode(ids_);
    const bool incomplete =
        text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0;
    if (incomplete && !final) return;
    if (text.size() > printed_) {
      std::fwrite(text.data() + printed_, 1, text.size() - printed_, stdout);
      std::fflush(stdout);
      printed_ = text.size();
    }
  }

  const data::Tokenizer& tokenizer_;
  std::vector<int64_t> ids_;
  size_t printed_ = 0;
};

void run_generate(const GenerateOptions& options) {
  set_threads(options.threads);
  if (options.max_new_tokens < 0) fail("--max-new-tokens must be >= 0");
  model::Sampler sampler(options.temperature, options.top_p, options.seed);
  const Checkpoint checkpoint = open_checkpoint(options.model);
  const auto& config = checkpoint.config;
  const data::Tokenizer& tokenizer = checkpoint.tokenizer;

  const PromptIds prompt_and_stops = prompt_ids(options, tokenizer);
  const std::vector<int64_t>& prompt = prompt_and_stops.ids;
  if (prompt.empty()) fail("--prompt: the prompt gives no tokens (and the tokenizer adds no BOS)");
  const int64_t room = config.max_position_embeddings - static_cast<int64_t>(prompt.size());
  if (room <= 0)
    fail("--prompt: {} tokens, more than the model's {} positions", prompt.size(),
         config.max_position_embeddings);
  const int64_t new_tokens = std::min<int64_t>(options.max_new_tokens, room);
  std::vector<int64_t> stops = config.eos_token_ids;
  stops.insert(stops.end(), tokenizer.stop_ids().begin(), tokenizer.stop_ids().end());
  stops.insert(stops.end(), prompt_and_stops.extra_stops.begin(),
               prompt_and_stops.extra_stops.end());
  model::LlamaForCausalLM model = load_weights(options.model, config);
  auto& net = *model;

  torch::NoGradGuard no_grad;
  model::KVCache cache(config.num_hidden_layers);
  model::ForwardOptions forward;
  forward.cache = &cache;
  TextStream stream(tokenizer);
  const auto start = std::chrono::steady_clock::now();
  // Prefill: the whole prompt at once; then one position per step.
  const torch::Device device = net.lm_head_weight().device();
  torch::Tensor input = torch::tensor(prompt).unsqueeze(0).to(device);  // [1, T]
  int64_t generated = 0;
  for (; generated < new_tokens; ++generated) {
    torch::Tensor hidden = net.forward(input, forward);                       // [1, T, C]
    torch::Tensor logits = net.logits(hidden.select(1, hidden.size(1) - 1));  // [1, V]
    // Rows of a vocabulary padded beyond the tokenizer are never chosen.
    const int64_t next = sampler.next(logits[0].narrow(0, 0, tokenizer.vocab_size()));
    if (std::find(stops.begin(), stops.end(), next) != stops.end()) break;
    stream.push(next);
    input = torch::tensor({next}).unsqueeze(0).to(device);
  }
  stream.finish();
  std::printf("\n");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("{} prompt tokens, {} new tokens in {:.2f} s ({:.1f} tokens/s)", prompt.size(),
               generated, seconds, generated / std::max(seconds, 1e-9));
}

}  // namespace

void add_generate_command(CLI::App& root) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* cmd = root.add_subcommand("generate", "Continue a prompt, streaming the text");
  add_model_flags(*cmd, options->model);
  cmd->add_option("--prompt", options->prompt, "Text to continue (with --chat: the user's message)")
      ->required();
  cmd->add_flag("--chat", options->chat,
                "Treat --prompt as a user message in the model's chat template and stop at the "
                "end of the reply");
  cmd->add_option("--system", options->system, "With --chat: a system message before it");
  cmd->add_option("--chat-template", options->chat_template,
                  "With --chat: auto (the model's own Jinja template), a FILE.jinja, or a "
                  "built-in: llama2, mistral, chatml, zephyr, alpaca, plain")
      ->capture_default_str();
  cmd->add_option("--max-new-tokens", options->max_new_tokens, "Most tokens to generate")
      ->capture_default_str();
  cmd->add_option("--temperature", options->temperature, "0: greedy; > 0: sample")
      ->capture_default_str();
  cmd->add_option("--top-p", options->top_p, "Nucleus sampling mass (with --temperature > 0)")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Sampling seed")->capture_default_str();
  add_threads_option(*cmd, options->threads);
  cmd->callback([options] { run_generate(*options); });
}

}  // namespace zili::cli
