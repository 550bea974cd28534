// `zili dpo-loss`: the preference loss and rewards of given log-probs, one JSON line per pair,
// in float64. A tool for checking the loss numbers (the TRL parity test feeds it), not for
// training: no model is involved.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/train_flags.h"
#include "data/jsonl.h"
#include "dpo/preference_loss.h"
#include "util/error.h"

namespace zili::cli {
namespace {

struct DpoLossOptions {
  std::string loss;
  std::string in;
  dpo::PreferenceSettings settings;
};

// The columns of the input, one value per pair.
struct PairColumns {
  std::vector<double> policy_chosen, policy_rejected, ref_chosen, ref_rejected;
  std::vector<double> chosen_tokens, rejected_tokens, chosen_nll;
};

double number_field(const nlohmann::json& object, const char* key, const std::string& path,
                    int64_t line) {
  const auto it = object.find(key);
  if (it == object.end()) fail("{}:{}: \"{}\" is missing", path, line, key);
  if (!it->is_number()) fail("{}:{}: \"{}\" must be a number", path, line, key);
  return it->get<double>();
}

double count_field(const nlohmann::json& object, const char* key, const std::string& path,
                   int64_t line) {
  const double count = number_field(object, key, path, line);
  if (!(count >= 1.0))
    fail("{}:{}: \"{}\" must be a token count >= 1, got {}", path, line, key, count);
  return count;
}

PairColumns read_pairs(dpo::PreferenceLoss loss, const DpoLossOptions& options) {
  const bool reference = dpo::needs_reference(loss);
  const bool nll = dpo::needs_chosen_nll(loss, options.settings);
  PairColumns c;
  data::for_each_jsonl_object(options.in, [&](int64_t line, const nlohmann::json& o) {
    const std::string& path = options.in;
    c.policy_chosen.push_back(number_field(o, "policy_chosen", path, line));
    c.policy_rejected.push_back(number_field(o, "policy_rejected", path, line));
    if (reference) {
      c.ref_chosen.push_back(number_field(o, "ref_chosen", path, line));
      c.ref_rejected.push_back(number_field(o, "ref_rejected", path, line));
    }
    // Counts only matter to ipo, simpo and orpo; the other losses read 1 when absent.
    const bool counts = o.contains("chosen_tokens") || o.contains("rejected_tokens") ||
                        loss == dpo::PreferenceLoss::ipo || !reference;
    c.chosen_tokens.push_back(counts ? count_field(o, "chosen_tokens", path, line) : 1.0);
    c.rejected_tokens.push_back(counts ? count_field(o, "rejected_tokens", path, line) : 1.0);
    if (nll) c.chosen_nll.push_back(number_field(o, "chosen_nll", path, line));
  });
  if (c.policy_chosen.empty()) fail("{}: no pairs (one JSON object per line)", options.in);
  return c;
}

// [P] float64, or undefined for a column the loss does not read.
torch::Tensor column(const std::vector<double>& values) {
  if (values.empty()) return {};
  return torch::tensor(values, torch::kFloat64);
}

void run_dpo_loss(const DpoLossOptions& options) {
  const dpo::PreferenceLoss loss = dpo::parse_preference_loss(options.loss);
  dpo::check_preference_settings(loss, options.settings);
  const PairColumns c = read_pairs(loss, options);
  const dpo::PreferenceLogps logps{column(c.policy_chosen), column(c.policy_rejected),
                                   column(c.ref_chosen),    column(c.ref_rejected),
                                   column(c.chosen_tokens), column(c.rejected_tokens),
                                   column(c.chosen_nll)};
  const dpo::PreferenceLossOutput out = dpo::preference_loss(loss, logps, options.settings);
  for (int64_t i = 0; i < out.losses.size(0); ++i) {
    const nlohmann::ordered_json line = {
        {"loss", out.losses[i].item<double>()},
        {"chosen_reward", out.chosen_rewards[i].item<double>()},
        {"rejected_reward", out.rejected_rewards[i].item<double>()}};
    std::puts(line.dump().c_str());
  }
}

}  // namespace

void add_dpo_loss_command(CLI::App& root) {
  auto options = std::make_shared<DpoLossOptions>();
  CLI::App* cmd = root.add_subcommand(
      "dpo-loss",
      "Print the preference loss and rewards of given log-probs, one JSON line per pair (a tool "
      "for checking the loss numbers, e.g. against TRL; no model involved)");
  cmd->footer(
      "Each input line: {\"policy_chosen\": .., \"policy_rejected\": .., \"ref_chosen\": .., "
      "\"ref_rejected\": .., \"chosen_tokens\": .., \"rejected_tokens\": .., \"chosen_nll\": ..}: "
      "summed completion log-probs, completion token counts (ipo, simpo, orpo), mean NLL per "
      "chosen token (orpo, --sft-weight). simpo and orpo take no ref_*. Output per line: "
      "{\"loss\": .., \"chosen_reward\": .., \"rejected_reward\": ..}.");
  CLI::Option* beta = add_preference_flags(*cmd, options->loss, options->settings);
  cmd->get_option("--loss")->required();
  cmd->add_option("--in", options->in, "JSONL file of pairs of log-probs")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->callback([options, beta] {
    if (options->loss == "orpo" && beta->count() > 0)
      fail(
          "--beta is not used by orpo: its odds-ratio weight is --orpo-lambda (TRL's "
          "ORPOConfig.beta)");
    run_dpo_loss(*options);
  });
}

}  // namespace zili::cli
