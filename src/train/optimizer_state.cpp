// AdamW construction and exact save / restore of its state.
#include "train/optimizer_state.h"

#include <fmt/format.h>

#include "io/safetensors.h"
#include "util/error.h"

namespace zili::train {

using torch::optim::AdamW;
using torch::optim::AdamWOptions;
using torch::optim::AdamWParamState;

static AdamWOptions options_of(const AdamWSettings& s, double weight_decay) {
  return AdamWOptions(s.lr).betas({s.beta1, s.beta2}).eps(s.eps).weight_decay(weight_decay);
}

std::unique_ptr<AdamW> make_adamw(const std::vector<torch::Tensor>& decayed,
                                  const std::vector<torch::Tensor>& not_decayed,
                                  const AdamWSettings& settings) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed,
                      std::make_unique<AdamWOptions>(options_of(settings, settings.weight_decay)));
  groups.emplace_back(not_decayed, std::make_unique<AdamWOptions>(options_of(settings, 0.0)));
  return std::make_unique<AdamW>(std::move(groups), options_of(settings, settings.weight_decay));
}

void set_learning_rate(AdamW& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<AdamWOptions&>(group.options()).lr(lr);
}

// Parameters in a fixed order: group by group, as constructed.
static std::vector<torch::Tensor> ordered_params(AdamW& optimizer) {
  std::vector<torch::Tensor> params;
  for (auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) params.push_back(p);
  return params;
}

void save_adamw_state(AdamW& optimizer, const std::string& path) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  const auto params = ordered_params(optimizer);
  for (size_t i = 0; i < params.size(); ++i) {
    auto found = optimizer.state().find(params[i].unsafeGetTensorImpl());
    if (found == optimizer.state().end()) continue;
    const auto& state = static_cast<const AdamWParamState&>(*found->second);
    tensors.emplace_back(fmt::format("state.{}.exp_avg", i), state.exp_avg());
    tensors.emplace_back(fmt::format("state.{}.exp_avg_sq", i), state.exp_avg_sq());
    tensors.emplace_back(fmt::format("state.{}.step", i), torch::tensor({state.step()}));
  }
  io::save_safetensors(path, tensors,
                       {{"format", "zili-adamw"}, {"parameters", std::to_string(params.size())}});
}

void load_adamw_state(AdamW& optimizer, const std::string& path) {
  auto file = io::SafetensorsFile::open(path);
  const auto params = ordered_params(optimizer);
  const auto& meta = file->metadata();
  auto count = meta.find("parameters");
  if (count == meta.end() || count->second != std::to_string(params.size()))
    fail("{}: optimizer state for {} parameters, this run trains {}: a checkpoint of another run",
         path, count == meta.end() ? "?" : count->second, params.size());
  optimizer.state().clear();
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string prefix = fmt::format("state.{}.", i);
    if (!file->find(prefix + "exp_avg")) continue;  // no step taken for it yet
    auto moment = [&](const char* name) {
      torch::Tensor t = file->tensor(prefix + name);
      if (t.sizes() != params[i].sizes() || t.scalar_type() != params[i].scalar_type())
        fail("{}: {}{} is {} {}, the parameter is {} {}: a checkpoint of another run", path, prefix,
             name, c10::toString(t.scalar_type()), io::shape_text(t.sizes().vec()),
             c10::toString(params[i].scalar_type()), io::shape_text(params[i].sizes().vec()));
      // A copy on the parameter's device: the file is unmapped after this.
      return t.to(params[i].device(), /*non_blocking=*/false, /*copy=*/true);
    };
    auto state = std::make_unique<AdamWParamState>();
    state->exp_avg(moment("exp_avg"));
    state->exp_avg_sq(moment("exp_avg_sq"));
    state->step(file->tensor(prefix + "step").item<int64_t>());
    optimizer.state()[params[i].unsafeGetTensorImpl()] = std::move(state);
  }
}

}  // namespace zili::train
