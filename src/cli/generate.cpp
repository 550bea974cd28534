// `zili generate`: continue a prompt, streaming the text to stdout as it is produced.
// Greedy at temperature 0, nucleus sampling otherwise; the KV cache makes each new token
// one single-position forward.
#include <chrono>
#include <cstdio>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "model/sampling.h"
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
  int threads = 1;
};

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

  std::vector<int64_t> prompt = tokenizer.encode(options.prompt);
  if (prompt.empty()) fail("--prompt: the prompt gives no tokens (and the tokenizer adds no BOS)");
  const int64_t room = config.max_position_embeddings - static_cast<int64_t>(prompt.size());
  if (room <= 0)
    fail("--prompt: {} tokens, more than the model's {} positions", prompt.size(),
         config.max_position_embeddings);
  const int64_t new_tokens = std::min<int64_t>(options.max_new_tokens, room);
  std::vector<int64_t> stops = config.eos_token_ids;
  if (tokenizer.eos_id() >= 0) stops.push_back(tokenizer.eos_id());
  model::LlamaForCausalLM model = load_weights(options.model, config);
  auto& net = *model;

  torch::NoGradGuard no_grad;
  model::KVCache cache(config.num_hidden_layers);
  model::ForwardOptions forward;
  forward.cache = &cache;
  TextStream stream(tokenizer);
  const auto start = std::chrono::steady_clock::now();
  // Prefill: the whole prompt at once; then one position per step.
  torch::Tensor input = torch::tensor(prompt).unsqueeze(0);  // [1, T]
  int64_t generated = 0;
  for (; generated < new_tokens; ++generated) {
    torch::Tensor hidden = net.forward(input, forward);                       // [1, T, C]
    torch::Tensor logits = net.logits(hidden.select(1, hidden.size(1) - 1));  // [1, V]
    // Rows of a vocabulary padded beyond the tokenizer are never chosen.
    const int64_t next = sampler.next(logits[0].narrow(0, 0, tokenizer.vocab_size()));
    if (std::find(stops.begin(), stops.end(), next) != stops.end()) break;
    stream.push(next);
    input = torch::tensor({next}).unsqueeze(0);
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
  cmd->add_option("--prompt", options->prompt, "Text to continue")->required();
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
