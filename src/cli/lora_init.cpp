// `zili lora-init`: a fresh LoRA adapter for a base model, in the PEFT layout. With the
// default init it changes nothing (B = 0); --random-b gives B random values, for tests and
// for trying `merge` and `--adapter` without training first.
#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "io/peft_adapter.h"
#include "lora/lora_model.h"
#include "model/load.h"
#include "util/error.h"
#include "util/staging_dir.h"

namespace zili::cli {
namespace {

struct LoraInitOptions {
  std::string model_dir;
  std::string out;
  int64_t r = 8;
  double alpha = 16;
  double dropout = 0.0;
  std::string targets = "q_proj,v_proj";
  std::string layers;
  bool rslora = false;
  std::string init = "default";
  double random_b = 0.0;
  uint64_t seed = 0;
  bool force = false;
};

void run_lora_init(const LoraInitOptions& options) {
  const model::ModelConfig base = model::load_config(options.model_dir);
  if (options.init != "default" && options.init != "gaussian")
    fail("--init: \"{}\" is not an init (use default or gaussian)", options.init);
  if (options.random_b < 0) fail("--random-b must be >= 0 (got {})", options.random_b);
  io::AdapterConfig config =
      lora::adapter_config_from_flags(base, options.r, options.alpha, options.dropout,
                                      options.rslora, options.targets, options.model_dir);
  config.init_lora_weights = options.init == "default" ? "true" : "gaussian";
  if (!options.layers.empty()) {
    config.layers_to_transform = lora::parse_layer_list(options.layers, base.num_hidden_layers);
    lora::targeted_modules(base, config, "--lora-targets", /*each_target_must_match=*/true);
  }
  StagingDir out(options.out, options.force, "--force", {options.model_dir});
  model::LlamaForCausalLM net = model::load_model(options.model_dir, base);
  lora::LoraModel lora = lora::LoraModel::create(*net, config, options.seed);
  if (options.random_b > 0) {
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed + 1);
    torch::NoGradGuard no_grad;
    for (const auto& entry : lora.entries())
      entry.adapter->lora_b.normal_(0, options.random_b, generator);
  }
  lora.save(out.path());
  out.commit();
  spdlog::info("wrote {} (r={}, alpha={}, {} layers wrapped{})", options.out, config.r,
               config.lora_alpha, lora.entries().size(),
               options.random_b > 0 ? ", random B" : ", B = 0: no change until trained");
}

}  // namespace

void add_lora_init_command(CLI::App& root) {
  auto options = std::make_shared<LoraInitOptions>();
  CLI::App* cmd =
      root.add_subcommand("lora-init", "Write a new LoRA adapter (PEFT layout) for a base model");
  cmd->add_option("--model", options->model_dir, "Base checkpoint folder")->required();
  cmd->add_option("--out", options->out, "Output adapter folder")->required();
  cmd->add_option("--lora-r", options->r, "Rank r")->capture_default_str();
  cmd->add_option("--lora-alpha", options->alpha,
                  "alpha: the update is scaled by alpha / r (alpha / sqrt(r) with --rslora)")
      ->capture_default_str();
  cmd->add_option("--lora-dropout", options->dropout,
                  "Dropout on the adapter's input (training only)")
      ->capture_default_str();
  cmd->add_option("--lora-targets", options->targets,
                  "Comma list of q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj (Phi-3: "
                  "qkv_proj,o_proj,gate_up_proj,down_proj), or all-linear")
      ->capture_default_str();
  cmd->add_option("--lora-layers", options->layers,
                  "Only these layers, e.g. 0-15 or 0,2,5-7 (default: all)");
  cmd->add_flag("--rslora", options->rslora, "Scale by alpha / sqrt(r) (rsLoRA)");
  cmd->add_option("--init", options->init, "A's init: default (kaiming-uniform) or gaussian")
      ->capture_default_str();
  cmd->add_option("--random-b", options->random_b,
                  "Draw B ~ N(0, STD^2) instead of zeros (testing merge and --adapter)")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Random seed")->capture_default_str();
  cmd->add_flag("--force", options->force, "Replace --out if it exists");
  cmd->callback([options] { run_lora_init(*options); });
}

}  // namespace zili::cli
