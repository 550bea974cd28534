// Targeting, creating, loading and saving LoRA adapters on a Llama-family model.
#include "lora/lora_model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>

#include <fmt/ranges.h>
#include <set>

#include "util/error.h"
#include "util/strings.h"

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

}  // namespace

std::vector<std::string> linear_suffixes(const model::ModelConfig& base) {
  // Phi-3's fused projections under PEFT's names for them.
  if (base.fused_projections) return {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"};
  return {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
}

// A target_modules pattern that libstdc++'s regex compiler cannot take safely: over 512
// characters (its parser recurses), a back-reference, or repetition counts ({n}, {n,m}) above 16 or
// more than four of them (the compiler copies the repeated part count times into the automaton, so
// nested counts multiply; a count beyond a long overflows inside the library; both found by
// fuzz_adapter_config). Module names are a few dozen characters, so no real pattern needs more.
static void check_pattern_size(const std::string& pattern, const std::string& where) {
  constexpr size_t kMaxLength = 512, kMaxCount = 16, kMaxCounts = 4;
  if (pattern.size() > kMaxLength)
    fail("{}: target_modules is a regular expression of {} characters (at most {})", where,
         pattern.size(), kMaxLength);
  size_t counts = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      // A back-reference (\1): refused by the executor zili uses, and its number, parsed
      // first, overflows a long inside libstdc++ when long enough (fuzz_adapter_config).
      if (i + 1 < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[i + 1])))
        fail("{}: target_modules \"{}\" has a back-reference, which zili does not match", where,
             pattern);
      ++i;  // an escaped character, "\\{" included
      continue;
    }
    if (pattern[i] != '{') continue;
    ++counts;
    // Every number up to the closing brace: {n}, {n,}, {n,m}.
    size_t j = i + 1;
    while (j < pattern.size() && pattern[j] != '}') {
      size_t end = j;
      while (end < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[end]))) ++end;
      if (end - j > 2 || (end > j && std::stoul(pattern.substr(j, end - j)) > kMaxCount))
        fail("{}: target_modules \"{}\" repeats a part more than {} times", where, pattern,
             kMaxCount);
      j = end > j ? end : j + 1;
    }
    i = j;
  }
  if (counts > kMaxCounts)
    fail("{}: target_modules \"{}\" has {} repetition counts (at most {})", where, pattern, counts,
         kMaxCounts);
}

std::vector<std::string> targeted_modules(const model::ModelConfig& base,
                                          const io::AdapterConfig& config, const std::string& where,
                                          bool each_target_must_match) {
  std::vector<std::string> modules;  // every linear of the base but lm_head, in layer order
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& shape : model::parameter_shapes(base)) {
    const std::string& name = shape.name;
    if (!name.starts_with("model.layers.") || !name.ends_with("_proj.weight")) continue;
    modules.push_back(name.substr(0, name.size() - std::string(".weight").size()));
  }
  std::vector<std::string> targets = config.target_modules;
  if (targets.size() == 1 && targets[0] == "all-linear") targets = linear_suffixes(base);
  std::optional<std::regex> pattern;
  if (config.target_regex) {
    if (config.layers_to_transform)
      fail(
          "{}: layers_to_transform cannot be combined with a regular-expression target_modules "
          "(PEFT refuses it too)",
          where);
    // __polynomial, libstdc++'s Thompson-NFA executor, matches in time linear in the name
    // whatever the pattern (".*+" nested quantifiers took the default backtracking executor
    // exponential time: found by fuzz_adapter_config); it refuses back-references (at compile
    // time), which no target pattern needs.
    check_pattern_size(*config.target_regex, where);
    try {
      pattern = std::regex(*config.target_regex,
                           std::regex::ECMAScript | std::regex_constants::__polynomial);
    } catch (const std::regex_error&) {
      fail(
          "{}: target_modules \"{}\" is not a valid regular expression (or has a "
          "back-reference, which zili does not match)",
          where, *config.target_regex);
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
  if (each_target_must_match && !pattern)
    for (const std::string& t : targets)
      if (!used.count(t))
        fail("{}: target \"{}\" matches no layer of this {} (its linear layers: {})", where, t,
             base.architecture, fmt::join(linear_suffixes(base), ", "));
  if (chosen.empty())
    fail("{}: target_modules {} (layers {}) select no layer of this {} (its linear layers: {})",
         where,
         config.target_regex ? *config.target_regex : fmt::format("{}", fmt::join(targets, ",")),
         config.layers_to_transform ? fmt::format("{}", fmt::join(*config.layers_to_transform, ","))
                                    : std::string("all"),
         base.architecture, fmt::join(linear_suffixes(base), ", "));
  return chosen;
}

std::vector<AdapterTarget> check_adapter(const model::ModelConfig& base,
                                         const io::AdapterFiles& adapter) {
  const std::string& where = adapter.weights->path();
  std::map<std::string, std::vector<int64_t>> weight_shapes;
  for (const auto& shape : model::parameter_shapes(base)) weight_shapes[shape.name] = shape.shape;
  const int64_t r = adapter.config.r;
  std::vector<AdapterTarget> targets;
  std::set<std::string> expected;
  const std::string config_file =
      (std::filesystem::path(where).parent_path() / "adapter_config.json").string();
  for (const std::string& module : targeted_modules(base, adapter.config, config_file)) {
    const auto& weight = weight_shapes.at(module + ".weight");  // [out, in]
    AdapterTarget target{module, weight[1], weight[0]};
    const std::pair<char, std::vector<int64_t>> wanted[2] = {{'A', {r, target.in}},
                                                             {'B', {target.out, r}}};
    for (const auto& [which, shape] : wanted) {
      const std::string key = io::peft_key(module, which);
      expected.insert(key);
      const io::TensorInfo* info = adapter.weights->find(key);
      if (info == nullptr)
        fail(
            "{}: no tensor {} for the targeted module {} (does adapter_config.json match the "
            "weights?)",
            where, key, module);
      if (!c10::isFloatingType(info->dtype))
        fail("{}: tensor {} has dtype {}, expected a floating-point dtype", where, key,
             io::dtype_to_safetensors(info->dtype));
      if (info->shape != shape)
        fail(
            "{}: tensor {} has shape {} but the base's {}.weight {} with r = {} needs {} (an "
            "adapter for another model, or another r than adapter_config.json says)",
            where, key, io::shape_text(info->shape), module, io::shape_text(weight), r,
            io::shape_text(shape));
    }
    targets.push_back(target);
  }
  for (const io::TensorInfo& info : adapter.weights->tensors())
    if (!expected.count(info.name))
      fail("{}: tensor {} is for a module this base lacks or the config does not target", where,
           info.name);
  return targets;
}

io::AdapterConfig adapter_config_from_flags(const model::ModelConfig& base, int64_t r, double alpha,
                                            double dropout, bool rslora, const std::string& targets,
                                            const std::string& base_dir) {
  if (r < 1) fail("--lora-r must be at least 1 (got {})", r);
  if (!(alpha > 0)) fail("--lora-alpha must be positive (got {})", alpha);
  if (!(dropout >= 0 && dropout < 1)) fail("--lora-dropout must be in [0, 1) (got {})", dropout);
  io::AdapterConfig config;
  config.r = r;
  config.lora_alpha = alpha;
  config.lora_dropout = dropout;
  config.use_rslora = rslora;
  config.target_modules = split_commas(targets);
  if (config.target_modules.empty()) fail("--lora-targets: no module names given");
  config.base_model_name_or_path = base_dir;
  // A typo in --lora-targets fails here, before anything is loaded.
  targeted_modules(base, config, "--lora-targets", /*each_target_must_match=*/true);
  return config;
}

std::vector<int64_t> parse_layer_list(const std::string& text, int64_t layers) {
  std::vector<int64_t> list;
  const std::regex item(R"(\s*(\d{1,9})\s*(?:-\s*(\d{1,9}))?\s*)");
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
    if (last >= layers)
      fail("--lora-layers: layer {} does not exist (the model has layers 0-{})", last, layers - 1);
    for (int64_t l = first; l <= last; ++l) list.push_back(l);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return list;
}

// "all-linear" becomes the explicit list: PEFT reads "all-linear" only as a plain string, so
// a saved list must name the modules.
static io::AdapterConfig with_explicit_targets(const model::ModelConfig& base,
                                               io::AdapterConfig config) {
  if (config.target_modules == std::vector<std::string>{"all-linear"})
    config.target_modules = linear_suffixes(base);
  return config;
}

LoraModel LoraModel::create(model::LlamaForCausalLMImpl& model, io::AdapterConfig config,
                            uint64_t seed) {
  if (config.r <= 0) fail("--lora-r must be positive (got {})", config.r);
  if (!(config.lora_dropout >= 0 && config.lora_dropout < 1))
    fail("--lora-dropout must be in [0, 1) (got {})", config.lora_dropout);
  if (config.init_lora_weights != "true" && config.init_lora_weights != "gaussian")
    fail("LoRA init \"{}\" is not supported (use default or gaussian)", config.init_lora_weights);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  LoraModel lora;
  lora.config_ = with_explicit_targets(model.config(), config);
  torch::NoGradGuard no_grad;
  for (const std::string& module : targeted_modules(model.config(), config, "--lora-targets",
                                                    /*each_target_must_match=*/true)) {
    model::LinearImpl& linear = linear_at(model, module);
    const int64_t in = linear.in_features, out = linear.out_features, r = config.r;
    torch::Tensor a = torch::empty({r, in});  // drawn on the CPU (seeded), then moved
    if (config.init_lora_weights == "gaussian") {
      a.normal_(0.0, 1.0 / static_cast<double>(r), generator);
    } else {
      // kaiming_uniform_(a = sqrt(5)): bound = sqrt(6 / ((1 + 5) fan_in)) = 1 / sqrt(in).
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      a.uniform_(-bound, bound, generator);
    }
    // fp32 masters on the layer's device (the draw stays on the CPU generator: the same A
    // on every device for a seed).
    a = a.to(linear.weight.device());
    torch::Tensor b = torch::zeros({out, r}, a.options());
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
  LoraModel lora;
  lora.config_ = with_explicit_targets(model.config(), files.config);
  for (const AdapterTarget& target : check_adapter(model.config(), files)) {
    model::LinearImpl& linear = linear_at(model, target.module);
    // fp32 master copies on the layer's device, whatever the file stores.
    const auto options =
        torch::TensorOptions().dtype(torch::kFloat32).device(linear.weight.device());
    torch::Tensor a =
        files.weights->tensor(io::peft_key(target.module, 'A')).to(options, false, true);
    torch::Tensor b =
        files.weights->tensor(io::peft_key(target.module, 'B')).to(options, false, true);
    auto adapter =
        std::make_shared<LoraAdapter>(a.set_requires_grad(true), b.set_requires_grad(true),
                                      files.config.scaling(), files.config.lora_dropout);
    linear.adapter = adapter;
    lora.entries_.push_back({target.module, adapter});
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
