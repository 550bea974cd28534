// Name mapping from checkpoint tensors to module parameters, with strict key checks.
#include "model/load.h"

#include <set>

#include <fmt/ranges.h>

#include "io/checkpoint_tensors.h"
#include "io/safetensors.h"
#include "util/error.h"

namespace zili::model {
namespace {

// Tensors a Hugging Face checkpoint may hold that the model does not need.
bool ignorable(const std::string& name, const ModelConfig& config) {
  if (name.size() >= 20 && name.ends_with("rotary_emb.inv_freq")) return true;
  return config.tie_word_embeddings && name == "lm_head.weight";
}

std::string list_some(const std::vector<std::string>& names) {
  const size_t shown = std::min<size_t>(names.size(), 6);
  std::string text = fmt::format("{}", fmt::join(names.begin(), names.begin() + shown, ", "));
  if (names.size() > shown) text += fmt::format(" and {} more", names.size() - shown);
  return text;
}

}  // namespace

void assign_parameters(
    LlamaForCausalLMImpl& model,
    const std::function<std::optional<torch::Tensor>(const std::string&)>& tensor_by_name,
    const std::vector<std::string>& available_names, const std::string& where,
    const LoadOptions& options) {
  auto params = model.named_parameters(/*recurse=*/true);
  std::set<std::string> wanted;
  std::vector<std::string> missing;
  for (const auto& item : params) {
    wanted.insert(item.key());
    if (!tensor_by_name(item.key())) missing.push_back(item.key());
  }
  std::vector<std::string> unexpected;
  for (const auto& name : available_names)
    if (!wanted.count(name) && !ignorable(name, model.config())) unexpected.push_back(name);
  if (!missing.empty())
    fail("{}: {} tensor(s) the config needs are missing: {} (does config.json match the weights?)",
         where, missing.size(), list_some(missing));
  if (!unexpected.empty())
    fail("{}: {} unexpected tensor(s) for {}: {} (does config.json match the weights?)", where,
         unexpected.size(), model.config().architecture, list_some(unexpected));

  // Expected shapes come from config.json, independently of the module placeholders.
  std::map<std::string, std::vector<int64_t>> expected;
  for (const auto& shape : parameter_shapes(model.config())) expected[shape.name] = shape.shape;
  torch::NoGradGuard no_grad;
  for (auto& item : params) {
    torch::Tensor value = *tensor_by_name(item.key());
    const auto& shape = expected.at(item.key());
    if (value.sizes() != c10::IntArrayRef(shape))
      fail("{}: tensor {} has shape {} but config.json implies {}", where, item.key(),
           io::shape_text(value.sizes()), io::shape_text(shape));
    if (!value.is_floating_point())
      fail("{}: tensor {} has dtype {}, expected a floating-point dtype", where, item.key(),
           c10::toString(value.scalar_type()));
    if (options.dtype && value.scalar_type() != *options.dtype) value = value.to(*options.dtype);
    if (value.device() != options.device) value = value.to(options.device);
    item.value().set_data(value);
  }
}

LlamaForCausalLM load_model(const std::string& dir, const LoadOptions& options) {
  return load_model(dir, load_config(dir), options);
}

LlamaForCausalLM load_model(const std::string& dir, const ModelConfig& config,
                            const LoadOptions& options) {
  const auto tensors = io::CheckpointTensors::open(dir);
  LlamaForCausalLM model(config);
  assign_parameters(
      *model,
      [&](const std::string& name) -> std::optional<torch::Tensor> {
        if (!tensors.contains(name)) return std::nullopt;
        return tensors.tensor(name);
      },
      tensors.names(), dir, options);
  return model;
}

std::optional<std::string> first_nonfinite_frozen_weight(const torch::nn::Module& model) {
  for (const auto& item : model.named_parameters())
    if (!item.value().requires_grad() && !torch::isfinite(item.value()).all().item<bool>())
      return item.key();
  for (const auto& item : model.named_buffers())
    if (item.value().is_floating_point() && !torch::isfinite(item.value()).all().item<bool>())
      return item.key();
  return std::nullopt;
}

void check_frozen_weights_finite(const torch::nn::Module& model, const std::string& where) {
  if (const auto name = first_nonfinite_frozen_weight(model))
    fail(
        "{}: tensor {} holds NaN or infinite values, so every output is NaN; the file is "
        "corrupt (re-download or re-convert the checkpoint, or the adapter)",
        where, *name);
}

}  // namespace zili::model
