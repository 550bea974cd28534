// `zili inspect DIR`: what a checkpoint holds (architecture, shapes, parameters, dtypes,
// files) and what a LoRA fine-tune of it would need in memory. Reads headers only.
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <vector>

#include <fmt/ranges.h>

#include "cli/commands.h"
#include "data/tokenizer.h"
#include "io/checkpoint_tensors.h"
#include "model/config.h"
#include "train/run_setup.h"
#include "util/error.h"

namespace zili::cli {
namespace {

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int unit = 0;
  while (bytes >= 1000 && unit < 4) bytes /= 1000, ++unit;
  return unit == 0 ? fmt::format("{:.0f} {}", bytes, units[unit])
                   : fmt::format("{:.1f} {}", bytes, units[unit]);
}

std::string human_count(double count) {
  if (count >= 1e9) return fmt::format("{:.2f}B", count / 1e9);
  if (count >= 1e6) return fmt::format("{:.1f}M", count / 1e6);
  if (count >= 1e3) return fmt::format("{:.1f}K", count / 1e3);
  return fmt::format("{:.0f}", count);
}

// Memory of a LoRA fine-tune, for a GPU run in bf16 (batch 1 x 1024 tokens, r = 16 on all
// linear layers, no gradient checkpointing):
//   weights      the base in its storage dtype;
//   adapters     r (in + out) per linear, fp32, times 4 (weights, grads, AdamW m and v);
//   activations  per layer and token, the tensors autograd keeps: about 10 C + 2 Hkv D + 3 F
//                values of 2 bytes (norm inputs and outputs, q k v, attention out, residuals,
//                gate, up, silu(gate) * up), plus the fp32 logits and their gradient [T, V] x 8.
void print_lora_estimate(const model::ModelConfig& c, double weight_bytes) {
  const double r = 16, tokens = 1024;
  const double C = c.hidden_size, F = c.intermediate_size, D = c.head_dim;
  const double q = c.num_attention_heads * D, kv = c.num_key_value_heads * D;
  const double lora_per_layer = r * ((C + q) + 2 * (C + kv) + (q + C) + 2 * (C + F) + (F + C));
  const double adapter_bytes = lora_per_layer * c.num_hidden_layers * 4 * 4;
  const double activation_bytes =
      tokens * c.num_hidden_layers * (10 * C + 2 * kv + 3 * F) * 2 + tokens * c.vocab_size * 8;
  std::printf(
      "LoRA fine-tune estimate (r=16 on all linear layers, batch 1 x 1024 tokens, bf16 "
      "compute):\n");
  std::printf("  base weights      %s\n", human_bytes(weight_bytes).c_str());
  std::printf("  adapters + AdamW  %s (%s trainable parameters)\n",
              human_bytes(adapter_bytes).c_str(),
              human_count(lora_per_layer * c.num_hidden_layers).c_str());
  std::printf("  activations       %s\n", human_bytes(activation_bytes).c_str());
  std::printf("  total             ~%s\n",
              human_bytes(weight_bytes + adapter_bytes + activation_bytes).c_str());
}

// Which tokenizer and chat template sft, dpo, eval and generate will use, as they pick them.
void print_tokenizer(const std::string& dir) {
  std::optional<data::Tokenizer> tokenizer;
  try {
    tokenizer = data::Tokenizer::load_dir(dir);
  } catch (const Error& e) {
    std::printf("  tokenizer         none usable: %s\n", e.what());
    return;
  }
  std::printf("  tokenizer         %s\n", tokenizer->describe().c_str());
  auto name = [&](int64_t id) {
    return id >= 0 ? fmt::format("{} ({})", tokenizer->piece(id), id) : std::string("none");
  };
  std::string stops;
  for (const int64_t id : tokenizer->stop_ids())
    stops += fmt::format("{}{}", stops.empty() ? "" : ", ", name(id));
  std::printf("  special tokens    bos %s, eos %s, pad %s; generation stops at %s\n",
              name(tokenizer->bos_id()).c_str(), name(tokenizer->eos_id()).c_str(),
              name(tokenizer->pad_id()).c_str(), stops.empty() ? "none" : stops.c_str());
  try {
    const train::ChatTemplateChoice choice = train::resolve_chat_template("auto", dir);
    std::printf("  %-17s %s\n", "chat template",
                choice.note.substr(choice.note.find(':') + 2).c_str());
  } catch (const Error& e) {
    std::printf("  chat template     unusable: %s\n", e.what());
  }
}

// The decoder options beyond Llama's, e.g. "q/k norms, (1 + w) norms, GeGLU (tanh)".
std::string family_options(const model::ModelConfig& c) {
  std::vector<std::string> parts;
  if (c.attention_bias) parts.push_back(c.o_proj_bias ? "attention biases" : "q/k/v biases");
  if (c.mlp_bias) parts.push_back("MLP biases");
  if (c.qk_norm) parts.push_back("q/k norms");
  if (c.norm_weight_offset != 0.0) parts.push_back("(1 + w) norms");
  if (c.sandwich_norms) parts.push_back("sandwich norms");
  parts.push_back(c.gelu_tanh ? "GeGLU (tanh GELU)" : "SwiGLU");
  if (c.fused_projections) parts.push_back("fused qkv_proj and gate_up_proj");
  if (c.scale_embeddings) parts.push_back("embeddings x sqrt(hidden)");
  if (c.query_pre_attn_scalar)
    parts.push_back(fmt::format("attention scale {:g}^-1/2", *c.query_pre_attn_scalar));
  if (c.attn_logit_softcapping)
    parts.push_back(fmt::format("attention soft-cap {:g}", *c.attn_logit_softcapping));
  if (c.final_logit_softcapping)
    parts.push_back(fmt::format("final soft-cap {:g}", *c.final_logit_softcapping));
  return fmt::format("{}", fmt::join(parts, ", "));
}

// "4096 on layers 0-4, 6-10 (10 of 12; the others global)" or "none".
std::string window_pattern(const model::ModelConfig& c) {
  if (!c.any_sliding_layer()) return "none";
  std::vector<std::string> runs;
  int64_t count = 0;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    if (!c.layer_is_sliding(i)) continue;
    int64_t j = i;
    while (j + 1 < c.num_hidden_layers && c.layer_is_sliding(j + 1)) ++j;
    runs.push_back(i == j ? fmt::format("{}", i) : fmt::format("{}-{}", i, j));
    count += j - i + 1;
    i = j;
  }
  if (count == c.num_hidden_layers) return fmt::format("{} on every layer", *c.sliding_window);
  return fmt::format("{} on layers {} ({} of {}; the others global)", *c.sliding_window,
                     fmt::join(runs, ", "), count, c.num_hidden_layers);
}

void run_inspect(const std::string& dir) {
  if (!std::filesystem::is_directory(dir))
    fail("{}: no such folder (give a Hugging Face checkpoint folder)", dir);
  const model::ModelConfig c = model::load_config(dir);
  const auto tensors = io::CheckpointTensors::open(dir);
  std::map<std::string, int64_t> parameters_by_dtype;
  double parameters = 0, weight_bytes = 0;
  for (const auto& name : tensors.names()) {
    const auto& info = tensors.info(name);
    double numel = 1;
    for (int64_t dim : info.shape) numel *= static_cast<double>(dim);
    parameters += numel;
    weight_bytes += static_cast<double>(info.end - info.begin);
    parameters_by_dtype[io::dtype_to_safetensors(info.dtype)] += static_cast<int64_t>(numel);
  }
  std::printf("%s\n", dir.c_str());
  std::printf("  architecture      %s (family %s)\n", c.architecture.c_str(),
              model::arch_name(c.family).c_str());
  std::printf("  options           %s\n", family_options(c).c_str());
  std::printf("  layers            %lld\n", static_cast<long long>(c.num_hidden_layers));
  std::printf("  hidden size       %lld (intermediate %lld)\n",
              static_cast<long long>(c.hidden_size), static_cast<long long>(c.intermediate_size));
  std::printf("  attention heads   %lld (key/value heads %lld, head dim %lld)\n",
              static_cast<long long>(c.num_attention_heads),
              static_cast<long long>(c.num_key_value_heads), static_cast<long long>(c.head_dim));
  std::printf("  vocabulary        %lld%s\n", static_cast<long long>(c.vocab_size),
              c.tie_word_embeddings ? " (tied input/output embeddings)" : "");
  std::printf(
      "  context           %lld positions, RoPE theta %g, scaling %s%s\n",
      static_cast<long long>(c.max_position_embeddings), c.rope_theta, c.rope_scaling.type.c_str(),
      c.rope_local_theta ? fmt::format(" (sliding layers: theta {:g})", *c.rope_local_theta).c_str()
                         : "");
  std::printf("  sliding window    %s\n", window_pattern(c).c_str());
  print_tokenizer(dir);
  std::printf("  parameters        %s (%.0f)\n", human_count(parameters).c_str(), parameters);
  std::string dtypes;
  for (const auto& [dtype, count] : parameters_by_dtype)
    dtypes += fmt::format("{}{} {}", dtypes.empty() ? "" : ", ", dtype, human_count(count));
  std::printf("  dtypes            %s (config: %s)\n", dtypes.c_str(),
              model::dtype_config_name(c.dtype).c_str());
  std::printf("  files             %zu%s\n", tensors.files().size(),
              tensors.sharded() ? " shards (model.safetensors.index.json)" : "");
  for (const auto& [file, size] : tensors.files())
    std::printf("    %-40s %s\n", std::filesystem::path(file).filename().c_str(),
                human_bytes(static_cast<double>(size)).c_str());
  print_lora_estimate(c, weight_bytes);
}

}  // namespace

void add_inspect_command(CLI::App& root) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = root.add_subcommand(
      "inspect", "Show a checkpoint's architecture, size, files and LoRA memory estimate");
  cmd->add_option("dir", *dir, "Hugging Face checkpoint folder")->required();
  cmd->callback([dir] { run_inspect(*dir); });
}

}  // namespace zili::cli
