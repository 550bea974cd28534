// `zili init`: a random-initialised checkpoint of any family (--arch) in the Hugging Face
// layout (config.json, safetensors, tokenizer files), for tests, demos and benchmarks.
#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "data/chat_template.h"
#include "data/tokenizer_files.h"
#include "io/checkpoint_tensors.h"
#include "model/presets.h"
#include "model/random_init.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/staging_dir.h"

namespace zili::cli {
namespace {

struct InitOptions {
  std::string preset = "tiny";
  std::string arch = "llama";
  std::string tokenizer;
  std::string train_tokenizer;
  int vocab_size = 512;
  std::string out;
  uint64_t seed = 0;
  std::string dtype = "f32";
  std::string max_shard_size = "5GB";
  std::string chat_template;  // empty: none written
  bool force = false;
  int threads = 1;
};

void write_generation_config(const model::ModelConfig& config, const std::string& dir) {
  nlohmann::json generation = {{"_from_model_config", true}};
  if (config.bos_token_id) generation["bos_token_id"] = *config.bos_token_id;
  if (!config.eos_token_ids.empty()) generation["eos_token_id"] = config.eos_token_ids[0];
  write_file_atomic((std::filesystem::path(dir) / "generation_config.json").string(),
                    generation.dump(2) + "\n");
}

void run_init(const InitOptions& options) {
  set_threads(options.threads);
  const c10::ScalarType dtype = model::parse_dtype_name(options.dtype, "--dtype");
  const uint64_t max_shard = io::parse_byte_size(options.max_shard_size);
  if (options.tokenizer.empty() == options.train_tokenizer.empty())
    fail("give exactly one of --tokenizer FILE.model and --train-tokenizer CORPUS.txt");
  // An unknown preset or architecture fails before any work.
  const model::Family family = model::parse_arch_name(options.arch);
  model::preset_config(options.preset, 0);
  // The template's Jinja text (chatml, zephyr) and, for a trained tokenizer, its markers as
  // whole pieces: "<|im_start|>" is then one token, as in the models that use it.
  std::string chat_template_jinja;
  std::vector<std::string> marker_pieces;
  if (!options.chat_template.empty()) {
    const data::ChatTemplate t = data::parse_chat_template(options.chat_template);
    if (t != data::ChatTemplate::chatml && t != data::ChatTemplate::zephyr)
      fail(
          "--chat-template {}: init writes chatml or zephyr (the others' markers are plain "
          "text; give the template to sft/dpo/eval with --chat-template instead)",
          options.chat_template);
    chat_template_jinja = data::chat_template_jinja(t);
    marker_pieces = data::chat_template_marker_pieces(t);
  }
  StagingDir out(options.out, options.force, "--force",
                 {options.tokenizer, options.train_tokenizer});

  std::string tokenizer_model = options.tokenizer;
  if (!options.train_tokenizer.empty()) {
    tokenizer_model = (std::filesystem::path(out.path()) / "tokenizer.model").string();
    data::train_tokenizer(options.train_tokenizer, options.vocab_size, tokenizer_model,
                          marker_pieces);
    spdlog::info("trained a {}-piece tokenizer on {}", options.vocab_size, options.train_tokenizer);
  } else if (!std::filesystem::is_regular_file(options.tokenizer)) {
    fail("{}: no such tokenizer file (give a sentencepiece tokenizer.model)", options.tokenizer);
  }
  const data::Tokenizer tokenizer = data::Tokenizer::load_model_file(tokenizer_model);
  // A given tokenizer keeps its pieces: markers it lacks stay text (several tokens each).
  for (const std::string& marker : marker_pieces) {
    const auto& specials = tokenizer.special_pieces();
    if (std::none_of(specials.begin(), specials.end(),
                     [&](const auto& special) { return special.text == marker; }))
      spdlog::warn(
          "{}: no \"{}\" piece; the {} template's markers stay plain text (generate --chat "
          "then stops at EOS only). Use --train-tokenizer to make them whole tokens",
          options.tokenizer, marker, options.chat_template);
  }

  model::ModelConfig config = model::preset_config(options.preset, tokenizer.vocab_size(), family);
  config.dtype = dtype;
  config.bos_token_id.reset();
  config.eos_token_ids.clear();
  if (tokenizer.bos_id() >= 0) config.bos_token_id = tokenizer.bos_id();
  if (tokenizer.eos_id() >= 0) config.eos_token_ids = {tokenizer.eos_id()};
  auto weights = model::random_weights(config, options.seed, dtype);
  const auto files =
      io::save_checkpoint_tensors(out.path(), weights, max_shard, {{"format", "pt"}});
  weights.clear();
  model::save_config(config, out.path());
  write_generation_config(config, out.path());
  data::write_tokenizer_files(tokenizer, out.path(), config.max_position_embeddings,
                              chat_template_jinja);
  out.commit();
  spdlog::info("wrote {} ({} {} preset, {} layers, vocab {}, {}, {} weight file(s))", options.out,
               config.architecture, options.preset, config.num_hidden_layers, config.vocab_size,
               model::dtype_config_name(dtype), files.size() - (files.size() > 1 ? 1 : 0));
}

}  // namespace

void add_init_command(CLI::App& root) {
  auto options = std::make_shared<InitOptions>();
  CLI::App* cmd =
      root.add_subcommand("init", "Write a random-initialised checkpoint (Hugging Face layout)");
  cmd->add_option("--preset", options->preset, "Model size: tiny, mini, small or medium")
      ->capture_default_str();
  cmd->add_option("--arch", options->arch,
                  "Architecture: llama, mistral, qwen2, qwen3, gemma2, gemma3 or phi3")
      ->capture_default_str();
  cmd->add_option("--tokenizer", options->tokenizer, "sentencepiece tokenizer.model to use");
  cmd->add_option("--train-tokenizer", options->train_tokenizer,
                  "Train a BPE tokenizer on this text file instead");
  cmd->add_option("--vocab-size", options->vocab_size, "Vocabulary size with --train-tokenizer")
      ->check(CLI::Range(300, 1000000))
      ->capture_default_str();
  cmd->add_option("--out", options->out, "Output folder")->required();
  cmd->add_option("--seed", options->seed, "Random seed of the weights")->capture_default_str();
  cmd->add_option("--dtype", options->dtype, "Storage dtype: f32, bf16 or f16")
      ->capture_default_str();
  cmd->add_option("--max-shard-size", options->max_shard_size,
                  "Largest safetensors shard, e.g. 5GB, 50MB")
      ->capture_default_str();
  cmd->add_option("--chat-template", options->chat_template,
                  "Write this chat template (chatml or zephyr) into tokenizer_config.json; with "
                  "--train-tokenizer its markers become whole tokens");
  cmd->add_flag("--force", options->force, "Replace --out if it exists");
  add_threads_option(*cmd, options->threads);
  cmd->callback([options] { run_init(*options); });
}

}  // namespace zili::cli
