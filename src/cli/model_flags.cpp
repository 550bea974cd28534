// --model / --dtype loading for the commands that run the model.
#include "cli/model_flags.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include "model/load.h"
#include "util/error.h"

namespace zili::cli {

void add_model_flags(CLI::App& command, ModelFlags& flags) {
  command.add_option("--model", flags.model_dir, "Hugging Face checkpoint folder")->required();
  command.add_option("--dtype", flags.dtype,
                     "Weights' dtype in memory: f32, bf16 or f16 (default: the checkpoint's)");
}

LoadedModel load_model_and_tokenizer(const ModelFlags& flags) {
  const auto start = std::chrono::steady_clock::now();
  model::LoadOptions options;
  if (!flags.dtype.empty()) options.dtype = model::parse_dtype_name(flags.dtype, "--dtype");
  LoadedModel loaded;
  loaded.model = model::load_model(flags.model_dir, options);
  loaded.model->eval();
  loaded.tokenizer = data::Tokenizer::load_dir(flags.model_dir);
  const auto& config = loaded.model->config();
  if (loaded.tokenizer.vocab_size() > config.vocab_size)
    fail("{}: tokenizer.model has {} pieces but config.json's vocab_size is {}", flags.model_dir,
         loaded.tokenizer.vocab_size(), config.vocab_size);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("loaded {} ({} layers) in {:.2f} s", flags.model_dir, config.num_hidden_layers,
               seconds);
  return loaded;
}

}  // namespace zili::cli
