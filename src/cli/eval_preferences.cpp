// Preference evaluation: policy and reference log-probs per pair, and DPO's metrics.
#include "cli/eval_preferences.h"

#include <cstdio>
#include <fstream>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "data/pair_batching.h"
#include "data/preference_data.h"
#include "dpo/reference_logps.h"
#include "lora/lora_model.h"
#include "model/load.h"
#include "train/run_setup.h"
#include "train/sequence_logps.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::cli {

bool is_preference_file(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
    return object.is_object() && object.contains("chosen");
  }
  return false;
}

void run_preference_eval(const PreferenceEvalOptions& options) {
  const Checkpoint checkpoint = open_checkpoint(options.model);
  const train::ChatTemplateChoice choice =
      train::resolve_chat_template(options.chat_template, options.model.model_dir);
  data::PreferenceDataOptions read;
  read.chat_template = choice.chat_template;
  read.model_template = choice.model_template;
  read.max_length = checkpoint.config.max_position_embeddings;
  const data::PreferenceDataset set =
      data::read_preference_data(options.data, checkpoint.tokenizer, read);
  if (!options.out.empty()) check_writable_file(options.out);
  train::log_chat_template(choice);

  // The base; the adapter on it is the policy, switched off it is the reference.
  ModelFlags base = options.model;
  base.adapter_dir.clear();
  model::LlamaForCausalLM model = load_weights(base, checkpoint.config);
  std::optional<lora::LoraModel> lora;
  if (!options.model.adapter_dir.empty())
    lora = lora::LoraModel::load(*model, options.model.adapter_dir);
  const int64_t pad_id = checkpoint.tokenizer.pad_id() >= 0 ? checkpoint.tokenizer.pad_id() : 0;
  dpo::ReferenceLogps reference(*model, lora ? &*lora : nullptr, "", pad_id, 256);

  torch::NoGradGuard no_grad;
  std::string records;
  std::map<std::string, double> sums;
  const auto& pairs = set.pairs;
  for (size_t first = 0; first < pairs.size(); first += options.batch_size) {
    std::vector<int64_t> indices;
    for (size_t i = first; i < std::min(pairs.size(), first + options.batch_size); ++i)
      indices.push_back(static_cast<int64_t>(i));
    const data::Batch batch = data::make_pair_batch(pairs, indices, pad_id);
    const int64_t P = batch.pairs;
    const torch::Tensor policy =
        train::sequence_logps(*model, batch, 256).logps.to(torch::kCPU, torch::kFloat64);  // [2P]
    dpo::PreferenceLogps logps;
    logps.policy_chosen_logps = policy.narrow(0, 0, P);
    logps.policy_rejected_logps = policy.narrow(0, P, P);
    std::vector<double> ref_chosen, ref_rejected;
    for (int64_t i : indices) {
      // Without an adapter the reference is the policy itself: rewards 0 by definition.
      const auto [c, r] = lora ? reference.get(0, pairs, i)
                               : std::pair<double, double>{policy[i - first].item<double>(),
                                                           policy[P + i - first].item<double>()};
      ref_chosen.push_back(c);
      ref_rejected.push_back(r);
    }
    logps.ref_chosen_logps = torch::tensor(ref_chosen, torch::kFloat64);
    logps.ref_rejected_logps = torch::tensor(ref_rejected, torch::kFloat64);
    const dpo::PreferenceLossOutput out =
        dpo::preference_loss(dpo::PreferenceLoss::sigmoid, logps, options.settings);
    for (int64_t p = 0; p < P; ++p) {
      const double chosen = out.chosen_rewards[p].item<double>();
      const double rejected = out.rejected_rewards[p].item<double>();
      const double policy_chosen = logps.policy_chosen_logps[p].item<double>();
      const double policy_rejected = logps.policy_rejected_logps[p].item<double>();
      const double loss = out.losses[p].item<double>();
      nlohmann::json record = {{"line", pairs[indices[p]].line},
                               {"policy_chosen", policy_chosen},
                               {"policy_rejected", policy_rejected},
                               {"reference_chosen", ref_chosen[p]},
                               {"reference_rejected", ref_rejected[p]},
                               {"margin", chosen - rejected},
                               {"loss", loss}};
      if (options.out.empty())
        std::printf("%s\n", record.dump().c_str());
      else
        records += record.dump() + "\n";
      sums["loss"] += loss;
      sums["rewards/chosen"] += chosen;
      sums["rewards/rejected"] += rejected;
      sums["rewards/accuracies"] += chosen > rejected ? 1.0 : 0.0;
      sums["rewards/margins"] += chosen - rejected;
      sums["logps/chosen"] += policy_chosen;
      sums["logps/rejected"] += policy_rejected;
      // The reference-free view, comparable between models: does the policy itself give the
      // chosen completion the higher (summed, so length-biased) log-probability?
      sums["prefers_chosen"] += policy_chosen > policy_rejected ? 1.0 : 0.0;
    }
  }
  if (!options.out.empty()) write_file_atomic(options.out, records);
  nlohmann::json summary = {{"pairs", pairs.size()}, {"beta", options.settings.beta}};
  for (const auto& [name, value] : sums) summary[name] = value / static_cast<double>(pairs.size());
  std::printf("overall: %s\n", summary.dump().c_str());
}

}  // namespace zili::cli
