// --model / --dtype loading for the commands that run the model.
#include "cli/model_flags.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "io/peft_adapter.h"
#include "lora/lora_model.h"
#include "model/device.h"
#include "model/load.h"
#include "util/error.h"

namespace zili::cli {

void add_model_flags(CLI::App& command, ModelFlags& flags) {
  command.add_option("--model", flags.model_dir, "Hugging Face checkpoint folder")->required();
  command.add_option("--adapter", flags.adapter_dir, "PEFT LoRA adapter folder to apply");
  command.add_option("--dtype", flags.dtype,
                     "Weights' dtype in memory: f32, bf16 or f16 (default: the checkpoint's)");
  add_device_flags(command, flags.device, flags.no_fused);
}

Checkpoint open_checkpoint(const ModelFlags& flags) {
  if (!flags.dtype.empty()) model::parse_dtype_name(flags.dtype, "--dtype");
  model::resolve_device(flags.device);
  Checkpoint checkpoint{model::load_config(flags.model_dir),
                        data::Tokenizer::load_dir(flags.model_dir)};
  // A vocabulary padded beyond the tokenizer (common, for GEMM-friendly sizes) is fine; a
  // tokenizer with ids the embedding lacks is not.
  if (checkpoint.tokenizer.vocab_size() > checkpoint.config.vocab_size)
    fail("{}: tokenizer.model has {} pieces but config.json's vocab_size is {}", flags.model_dir,
         checkpoint.tokenizer.vocab_size(), checkpoint.config.vocab_size);
  if (!flags.adapter_dir.empty())
    lora::check_adapter(checkpoint.config, io::read_adapter(flags.adapter_dir));
  return checkpoint;
}

model::LlamaForCausalLM load_weights(const ModelFlags& flags, const model::ModelConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  model::LoadOptions options;
  if (!flags.dtype.empty()) options.dtype = model::parse_dtype_name(flags.dtype, "--dtype");
  options.device = model::resolve_device(flags.device);
  apply_no_fused(flags.no_fused);
  model::LlamaForCausalLM model = model::load_model(flags.model_dir, config, options);
  model->model->compute_dtype =
      model::compute_dtype_for(options.device, options.dtype.value_or(config.dtype));
  model->eval();
  if (!flags.adapter_dir.empty()) {
    const auto lora = lora::LoraModel::load(*model, flags.adapter_dir);
    spdlog::info("applied adapter {} (r={}, {} layers wrapped)", flags.adapter_dir, lora.config().r,
                 lora.entries().size());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("loaded {} ({} layers) in {:.2f} s on {}", flags.model_dir, config.num_hidden_layers,
               seconds, model::describe_device(options.device));
  return model;
}

}  // namespace zili::cli
