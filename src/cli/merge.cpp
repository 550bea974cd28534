// `zili merge`: a base checkpoint plus a PEFT LoRA adapter into one standalone Hugging Face
// checkpoint (W' = W + s B A), streamed tensor by tensor so memory stays near one tensor.
#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "io/checkpoint_tensors.h"
#include "lora/merge.h"
#include "model/config.h"

namespace zili::cli {
namespace {

struct MergeCliOptions {
  std::string model_dir;
  std::string adapter_dir;
  std::string out;
  std::string dtype;  // empty: the base's config.json dtype
  std::string max_shard_size = "5GB";
  bool force = false;
  int threads = 1;
};

void run_merge(const MergeCliOptions& options) {
  set_threads(options.threads);
  lora::MergeOptions merge;
  if (!options.dtype.empty()) merge.dtype = model::parse_dtype_name(options.dtype, "--dtype");
  merge.max_shard_bytes = io::parse_byte_size(options.max_shard_size);
  merge.overwrite = options.force;

  const auto start = std::chrono::steady_clock::now();
  const lora::MergeSummary summary =
      lora::merge_adapter(options.model_dir, options.adapter_dir, options.out, merge);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const size_t shards = summary.weight_files.size() - (summary.weight_files.size() > 1 ? 1 : 0);
  spdlog::info(
      "merged {} into {} linear weights; wrote {} ({}, {} tensors, {:.1f} MB in {} "
      "weight file(s)) in {:.1f} s",
      options.adapter_dir, summary.merged_weights, options.out,
      model::dtype_config_name(summary.dtype), summary.tensors, double(summary.bytes) / 1e6, shards,
      seconds);
  if (std::find(summary.other_files.begin(), summary.other_files.end(), "tokenizer.model") ==
      summary.other_files.end())
    spdlog::warn("{} has no tokenizer.model, so neither has {}; copy the tokenizer files by hand",
                 options.model_dir, options.out);
}

}  // namespace

void add_merge_command(CLI::App& root) {
  auto options = std::make_shared<MergeCliOptions>();
  CLI::App* cmd = root.add_subcommand(
      "merge", "Merge a LoRA adapter into its base: a standalone Hugging Face checkpoint");
  cmd->add_option("--model", options->model_dir, "Base checkpoint folder")->required();
  cmd->add_option("--adapter", options->adapter_dir, "PEFT LoRA adapter folder")->required();
  cmd->add_option("--out", options->out, "Output checkpoint folder")->required();
  cmd->add_option("--dtype", options->dtype,
                  "Output dtype: f32, bf16 or f16 (default: the base's config.json dtype)");
  cmd->add_option("--max-shard-size", options->max_shard_size,
                  "Largest safetensors shard, e.g. 5GB, 500MB")
      ->capture_default_str();
  cmd->add_flag("--force", options->force, "Replace --out if it exists");
  add_threads_option(*cmd, options->threads);
  cmd->callback([options] { run_merge(*options); });
}

}  // namespace zili::cli
