// Targeting, creating, loading and saving LoRA adapters on a Llama-family model.
#include "lora/lora_model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <array>
#include <cmath>
#include <regex>

#include <fmt/ranges.h>
#include <set>

#include "util/error.h"

namespace zili::lora {
namespace {

// The Linear module at `name` ("model.layers.3.mlp.up_proj"); TORCH_CHECK if absent.
model::LinearImpl& linear_at(model::LlamaForCausalLMImpl& model, const std::string& name) {
  for (const auto& item : model.named_modules()) {
    if (item.key() != name) continue;
    auto* linear = item.value()->as<model::LinearImpl>();
    TORCH_CHECK(linear != nullptr, name, " is not a linear layer");
    return *linear;
  }
  TORCH_CHECK(false, "no module named ", name);
}

int64_t layer_of(const std::string& module) {
  // "model.layers.12.mlp.up_proj" -> 12
  const std::string prefix = "model.layers.";
  return std::stoll(module.substr(prefix.size(), module.find('.', prefix.size()) - prefix.size()));
}

std::string shape_of(const torch::Tensor& t) {
  return io::shape_text(t.sizes());
}

}  // namespace

const std::vector<std::string>& linear_suffixes() {
  static const std::vector<std::string> names = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"};
  return names;
}

std::vector<std::string> targeted_modules(const model::ModelConfig& base,
                                          const io::AdapterConfig& config) {
  std::vector<std::string> modules;  // every linear of the base but lm_head, in layer order
  for (const auto& shape : model::parameter_shapes(base)) {
    const std::string& name = shape.name;
    if (!name.starts_with("model.layers.") || !name.ends_with("_proj.weight")) continue;
    modules.push_back(name.substr(0, name.size() - std::string(".weight").size()));
  }
  std::vector<std::string> targets = config.target_modules;
  if (targets.size() == 1 && targets[0] == "all-linear") targets = linear_suffixes();
  std::optional<std::regex> pattern;
  if (config.target_regex) {
    try {
      pattern = std::regex(*config.target_regex);
    } catch (const std::regex_error&) {
      fail("target_modules: \"{}\" is not a valid regular expression", *config.target_regex);
    }
  }
  std::set<std::string> used;
  std::vector<std::string> chosen;
  for (const std::string& module : modules) {
    bool match = false;
    if (pattern) {
      match = std::regex_match(module, *pattern);
    } else {
      for (const std::string& t : targets)
        if (module == t || module.ends_with("." + t)) match = true, used.insert(t);
    }
    if (!match) continue;
    if (config.layers_to_transform) {
      const auto& layers = *config.layers_to_transform;
      if (std::find(layers.begin(), layers.end(), layer_of(module)) == layers.end()) continue;
    }
    chosen.push_back(module);
  }
  for (const std::string& t : targets)
    if (!pattern && !used.count(t))
      fail("target_modules: \"{}\" matches no layer of this {} (its linear layers: {})", t,
           base.architecture, fmt::join(linear_suffixes(), ", "));
  if (chosen.empty())
    fail("the adapter's target_modules and layers_to_transform select no layer of this model");
  return chosen;
}

std::vector<int64_t> parse_layer_list(const std::string& text) {
  std::vector<int64_t> layers;
  const std::regex item(R"(\s*(\d+)\s*(?:-\s*(\d+))?\s*)");
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    std::smatch m;
    if (!std::regex_match(part, m, item))
      fail("--lora-layers: cannot read \"{}\" (use e.g. 0-15 or 0,2,5-7)", text);
    const int64_t first = std::stoll(m[1]), last = m[2].matched ? std::stoll(m[2]) : first;
    if (last < first) fail("--lora-layers: range {}-{} runs backwards", first, last);
    for (int64_t l = first; l <= last; ++l) layers.push_back(l);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return layers;
}

LoraModel LoraModel::create(model::LlamaForCausalLMImpl& model, io::AdapterConfig config,
                            uint64_t seed) {
  if (config.r <= 0) fail("--lora-r must be positive (got {})", config.r);
  if (!(config.lora_dropout >= 0 && config.lora_dropout < 1))
    fail("--lora-dropout must be in [0, 1) (got {})", config.lora_dropout);
  if (config.init_lora_weights != "true" && config.init_lora_weights != "gaussian")
    fail("LoRA init \"{}\" is not supported (use default or gaussian)", config.init_lora_weights);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  // Saved as the explicit list: PEFT reads "all-linear" only as a plain string, not a list.
  if (config.target_modules == std::vector<std::string>{"all-linear"})
    config.target_modules = linear_suffixes();
  LoraModel lora;
  lora.config_ = config;
  torch::NoGradGuard no_grad;
  for (const std::string& module : targeted_modules(model.config(), config)) {
    model::LinearImpl& linear = linear_at(model, module);
    const int64_t in = linear.in_features, out = linear.out_features, r = config.r;
    torch::Tensor a = torch::empty({r, in});
    if (config.init_lora_weights == "gaussian") {
      a.normal_(0.0, 1.0 / static_cast<double>(r), generator);
    } else {
      // kaiming_uniform_(a = sqrt(5)): bound = sqrt(6 / ((1 + 5) fan_in)) = 1 / sqrt(in).
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      a.uniform_(-bound, bound, generator);
    }
    torch::Tensor b = torch::zeros({out, r});
    auto adapter =
        std::make_shared<LoraAdapter>(a.set_requires_grad(true), b.set_requires_grad(true),
                                      config.scaling(), config.lora_dropout);
    linear.adapter = adapter;
    lora.entries_.push_back({module, adapter});
  }
  return lora;
}

LoraModel LoraModel::load(model::LlamaForCausalLMImpl& model, const std::string& dir) {
  io::AdapterFiles files = io::read_adapter(dir);
  const std::string where = files.weights->path();
  LoraModel lora;
  lora.config_ = files.config;
  std::set<std::string> expected;
  std::vector<std::pair<std::string, std::array<torch::Tensor, 2>>> weights;
  for (const std::string& module : targeted_modules(model.config(), files.config)) {
    model::LinearImpl& linear = linear_at(model, module);
    const int64_t r = files.config.r;
    std::array<torch::Tensor, 2> ab;
    const std::pair<char, std::vector<int64_t>> wanted[2] = {{'A', {r, linear.in_features}},
                                                             {'B', {linear.out_features, r}}};
    for (int i = 0; i < 2; ++i) {
      const std::string key = io::peft_key(module, wanted[i].first);
      expected.insert(key);
      if (!files.weights->find(key))
        fail(
            "{}: no tensor {} for the targeted module {} (does adapter_config.json match the "
            "weights?)",
            where, key, module);
      torch::Tensor t = files.weights->tensor(key);
      if (t.sizes() != c10::IntArrayRef(wanted[i].second))
        fail(
            "{}: tensor {} has shape {} but r = {} on this base needs {} (an adapter for another "
            "model, or another r than adapter_config.json says)",
            where, key, shape_of(t), r, io::shape_text(wanted[i].second));
      if (!t.is_floating_point())
        fail("{}: tensor {} has dtype {}, expected a floating-point dtype", where, key,
             c10::toString(t.scalar_type()));
      ab[i] = t.to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/true);
    }
    weights.push_back({module, ab});
  }
  for (const auto& info : files.weights->tensors())
    if (!expected.count(info.name))
      fail("{}: tensor {} is for a module this base lacks or the config does not target", where,
           info.name);
  for (auto& [module, ab] : weights) {
    auto adapter =
        std::make_shared<LoraAdapter>(ab[0].set_requires_grad(true), ab[1].set_requires_grad(true),
                                      files.config.scaling(), files.config.lora_dropout);
    linear_at(model, module).adapter = adapter;
    lora.entries_.push_back({module, adapter});
  }
  return lora;
}

void LoraModel::save(const std::string& dir) const {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const Entry& e : entries_) {
    tensors.emplace_back(io::peft_key(e.module, 'A'), e.adapter->lora_a.detach());
    tensors.emplace_back(io::peft_key(e.module, 'B'), e.adapter->lora_b.detach());
  }
  io::write_adapter(dir, config_, tensors);
}

std::vector<torch::Tensor> LoraModel::parameters() const {
  std::vector<torch::Tensor> params;
  for (const Entry& e : entries_) {
    params.push_back(e.adapter->lora_a);
    params.push_back(e.adapter->lora_b);
  }
  return params;
}

void LoraModel::set_training(bool training) {
  for (const Entry& e : entries_) e.adapter->training = training;
}

void LoraModel::set_enabled(bool enabled) {
  enabled_ = enabled;
  for (const Entry& e : entries_) e.adapter->enabled = enabled;
}

}  // namespace zili::lora
