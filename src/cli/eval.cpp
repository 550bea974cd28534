// `zili eval`: log-likelihood of JSONL lines under the model: per line the sum of the scored
// tokens' log-probabilities, their count and the perplexity, and the same overall. {"text": ...}
// lines score every token after the first; the SFT layouts (prompt/completion, messages)
// score the completion / assistant tokens only, as the training loss does. With --per-token,
// each line's ids and the log-probability of each token given the ones before it.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/eval_preferences.h"
#include "cli/model_flags.h"
#include "data/jsonl.h"
#include "data/sft_data.h"
#include "model/config.h"
#include "model/load.h"
#include "model/logprobs.h"
#include "train/run_setup.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::cli {
namespace {

struct EvalOptions {
  ModelFlags model;
  std::string data;
  std::string out;
  bool per_token = false;
  std::string chat_template = "auto";
  double beta = 0.1;
  int batch_size = 8;
  int threads = 1;
};

struct Example {
  int64_t line = 0;
  std::vector<int64_t> ids;
  std::vector<uint8_t> scored;  // [T]: 1 when ids[t] counts (t >= 1); empty: all of them
};

// Whether the file's first line is {"text": ...} (else one of the SFT layouts).
bool is_text_layout(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
    return object.is_object() && object.contains("text");
  }
  return true;  // empty: read_texts says so
}

// prompt/completion or messages lines: the completion / assistant tokens are scored.
std::vector<Example> read_sft_lines(const std::string& path, const data::Tokenizer& tokenizer,
                                    const EvalOptions& options, int64_t max_positions) {
  data::SftDataOptions sft;
  const train::ChatTemplateChoice choice =
      train::resolve_chat_template(options.chat_template, options.model.model_dir);
  sft.chat_template = choice.chat_template;
  sft.model_template = choice.model_template;
  sft.max_length = max_positions;
  sft.drop_overlong = true;
  data::SftDataset set = data::read_sft_data(path, tokenizer, sft);
  if (set.stats.dropped_overlong > 0)
    fail("{}: {} lines are longer than the model's {} positions", path, set.stats.dropped_overlong,
         max_positions);
  train::log_chat_template(choice);
  std::vector<Example> examples;
  for (auto& e : set.examples) examples.push_back({e.line, std::move(e.ids), std::move(e.target)});
  return examples;
}

std::vector<Example> read_texts(const std::string& path, const data::Tokenizer& tokenizer,
                                int64_t max_positions) {
  std::vector<Example> examples;
  data::for_each_jsonl_object(path, [&](int64_t line, const nlohmann::json& object) {
    Example example{line, tokenizer.encode(data::jsonl_string(object, "text", path, line)), {}};
    if (static_cast<int64_t>(example.ids.size()) > max_positions)
      fail("{}:{}: {} tokens, more than the model's {} positions", path, line, example.ids.size(),
           max_positions);
    examples.push_back(std::move(example));
  });
  if (examples.empty())
    fail("{}: no lines to evaluate (expected {{\"text\": ...}} per line)", path);
  return examples;
}

void run_eval(const EvalOptions& options) {
  set_threads(options.threads);
  if (options.batch_size < 1) fail("--batch-size must be at least 1");
  if (is_preference_file(options.data)) {
    PreferenceEvalOptions pairs{options.model,         options.data, options.out,
                                options.chat_template, {},           options.batch_size};
    pairs.settings.beta = options.beta;
    if (!(options.beta > 0)) fail("--beta must be positive (got {})", options.beta);
    return run_preference_eval(pairs);
  }
  // Everything a user can get wrong in the data or --out is checked before the model loads.
  const Checkpoint checkpoint = open_checkpoint(options.model);
  const int64_t positions = checkpoint.config.max_position_embeddings;
  const auto examples =
      is_text_layout(options.data)
          ? read_texts(options.data, checkpoint.tokenizer, positions)
          : read_sft_lines(options.data, checkpoint.tokenizer, options, positions);
  if (!options.out.empty()) check_writable_file(options.out);
  model::LlamaForCausalLM model = load_weights(options.model, checkpoint.config);
  auto& net = *model;

  torch::NoGradGuard no_grad;
  const auto start = std::chrono::steady_clock::now();
  std::string records;
  double total_logprob = 0;
  int64_t total_tokens = 0;
  for (size_t first = 0; first < examples.size(); first += options.batch_size) {
    const size_t count = std::min<size_t>(options.batch_size, examples.size() - first);
    // Right-padded batch ids [B, T]; padding id 0 is never a target (masked to 0 below).
    size_t longest = 1;
    for (size_t i = 0; i < count; ++i) longest = std::max(longest, examples[first + i].ids.size());
    torch::Tensor ids =
        torch::zeros({static_cast<int64_t>(count), static_cast<int64_t>(longest)}, torch::kInt64);
    std::vector<int64_t> lengths;
    for (size_t i = 0; i < count; ++i) {
      const auto& e = examples[first + i].ids;
      if (!e.empty()) ids[i].narrow(0, 0, e.size()).copy_(torch::tensor(e));
      lengths.push_back(static_cast<int64_t>(e.size()));
    }
    torch::Tensor logprobs =
        model::token_logprobs(net, ids, lengths).to(torch::kCPU, torch::kFloat64);
    if (!torch::isfinite(logprobs).all().item<bool>())
      model::check_frozen_weights_finite(net, options.model.model_dir);
    for (size_t i = 0; i < count; ++i) {
      const Example& example = examples[first + i];
      // The first token is not predicted; entry t of the row scores ids[t + 1].
      torch::Tensor row = logprobs[i].narrow(0, 0, std::max<int64_t>(0, lengths[i] - 1));
      if (!example.scored.empty()) {
        torch::Tensor scored =
            torch::tensor(std::vector<int64_t>(example.scored.begin() + 1, example.scored.end()))
                .to(torch::kBool);
        row = row.masked_select(scored);
      }
      const int64_t tokens = row.numel();
      const double sum = row.sum().item<double>();
      total_logprob += sum;
      total_tokens += tokens;
      nlohmann::json record = {{"line", example.line}, {"tokens", tokens}, {"logprob", sum}};
      record["perplexity"] = nullptr;
      if (tokens > 0) record["perplexity"] = std::exp(-sum / tokens);
      if (options.per_token) {
        record["ids"] = example.ids;
        record["token_logprobs"] =
            std::vector<double>(row.data_ptr<double>(), row.data_ptr<double>() + tokens);
      }
      if (!options.out.empty()) {
        records += record.dump() + "\n";
      } else if (options.per_token) {
        std::printf("%s\n", record.dump().c_str());
      } else {
        std::printf("line %lld: %lld tokens, logprob %.4f, perplexity %.4f\n",
                    static_cast<long long>(example.line), static_cast<long long>(tokens), sum,
                    tokens > 0 ? std::exp(-sum / tokens) : NAN);
      }
    }
  }
  if (!options.out.empty()) write_file_atomic(options.out, records);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double nll = total_tokens > 0 ? -total_logprob / total_tokens : NAN;
  std::printf("overall: %zu lines, %lld tokens, logprob %.4f, mean NLL %.4f, perplexity %.4f\n",
              examples.size(), static_cast<long long>(total_tokens), total_logprob, nll,
              std::exp(nll));
  spdlog::info("evaluated {} tokens in {:.2f} s{}", total_tokens, seconds,
               options.out.empty() ? "" : ", records in " + options.out);
}

}  // namespace

void add_eval_command(CLI::App& root) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* cmd =
      root.add_subcommand("eval",
                          "Log-likelihood and perplexity of JSONL lines; on a preference file, "
                          "per-pair log-probs and DPO's metrics");
  add_model_flags(*cmd, options->model);
  cmd->add_option("--data", options->data,
                  "JSONL: {\"text\": ...} lines, the SFT layouts (prompt/completion, messages: "
                  "completion tokens scored), or preference pairs (prompt/chosen/rejected)")
      ->required();
  cmd->add_option("--chat-template", options->chat_template,
                  "For chat lines: auto (the model's own Jinja template), a FILE.jinja, or a "
                  "built-in: llama2, mistral, chatml, zephyr, alpaca, plain")
      ->capture_default_str();
  cmd->add_option("--out", options->out, "Write one JSON record per line to this file");
  cmd->add_flag("--per-token", options->per_token,
                "Also give each line's token ids and per-token log-probabilities");
  cmd->add_option("--batch-size", options->batch_size, "Lines per forward pass")
      ->capture_default_str();
  cmd->add_option("--beta", options->beta,
                  "For preference files: the DPO beta of the rewards and the sigmoid loss")
      ->capture_default_str();
  add_threads_option(*cmd, options->threads);
  cmd->callback([options] { run_eval(*options); });
}

}  // namespace zili::cli
