// zili-bench: the benchmarks' command line. Each subcommand prints one JSON object per
// measurement on stdout; errors are one line on stderr and exit 1.
//   zili-bench gemm     [--device D] [--dtype T] [--n N]
//   zili-bench dpo-step [--device D] [--shape S] [--seq T] [--pairs P] [--lora-r r] ...
//   zili-bench ops      [--device D] [--dtype T]
//   zili-bench flops    [--shape S] [--seq T] [--pairs P] [--lora-r r] [--precompute-ref]
//   zili-bench tokenize --tokenizer FILE.json --text-file FILE [--repeats N]
#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>

#include "bench/bench.h"
#include "model/device.h"
#include "model/fused.h"
#include "util/error.h"

namespace {

using zili::bench::StepSettings;

void print(const nlohmann::json& record) {
  std::printf("%s\n", record.dump().c_str());
  std::fflush(stdout);
}

// The compute dtype's matrix-product rate: what MFU is measured against.
nlohmann::json gemm_record(torch::Device device, c10::ScalarType dtype, int64_t n) {
  const double rate = zili::bench::gemm_flops_per_second(device, dtype, n);
  return {{"bench", "gemm"},
          {"device", device.str()},
          {"dtype", zili::model::dtype_config_name(dtype)},
          {"n", n},
          {"flops_per_second", rate}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"zili-bench: zili's training step and fused ops, timed (JSON lines on stdout)"};
  app.require_subcommand(1);
  std::string device_flag = "auto", dtype_flag;
  bool no_fused = false;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("--device", device_flag, "auto, cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_option("--dtype", dtype_flag,
                    "f32, bf16 or f16 (default: f32 on a CPU, bf16 on a GPU)");
    cmd->add_option("--threads", threads, "CPU threads")->check(CLI::PositiveNumber);
  };

  int64_t gemm_n = 0;
  CLI::App* gemm = app.add_subcommand("gemm", "Matrix-product rate, C = A B with [n, n] inputs");
  add_common(gemm);
  gemm->add_option("--n", gemm_n, "Matrix size (default: 8192 on a GPU, 2048 on a CPU)");

  // The step's shape, shared by dpo-step (which runs it) and flops (which counts it).
  StepSettings step;
  const auto add_step_shape = [&](CLI::App* cmd) {
    cmd->add_option("--shape", step.shape, "tiny, mini, small, medium, 1b or 7b")
        ->capture_default_str();
    cmd->add_option("--seq", step.seq, "Tokens per sequence (half prompt, half completion)")
        ->capture_default_str();
    cmd->add_option("--pairs", step.pairs, "Preference pairs per step")->capture_default_str();
    cmd->add_option("--lora-r", step.lora_r, "LoRA rank (alpha = 2r)")->capture_default_str();
    cmd->add_flag("--precompute-ref", step.precompute_ref, "No reference pass in the step");
  };

  CLI::App* dpo = app.add_subcommand(
      "dpo-step", "DPO steps (sigmoid) of a random-weight model with LoRA on every linear layer");
  add_common(dpo);
  add_step_shape(dpo);
  dpo->add_flag("--grad-checkpoint", step.grad_checkpoint, "Recompute each layer in backward");
  dpo->add_flag("--no-fused", no_fused, "The plain libtorch ops instead of the fused kernels");
  dpo->add_option("--warmup", step.warmup, "Untimed steps first")->capture_default_str();
  dpo->add_option("--steps", step.steps, "Timed steps (the median is reported)")
      ->capture_default_str();

  CLI::App* ops = app.add_subcommand("ops", "Each fused op against its reference, fwd + bwd");
  add_common(ops);

  // The model FLOPs of a dpo-step without running it: bench/run.sh's MFU of `zili dpo` and TRL.
  CLI::App* flops = app.add_subcommand("flops", "Model FLOPs of one DPO step (dpo-step's count)");
  add_step_shape(flops);

  // tokenizer.json load time and encode throughput (bench/tokenizer_speed.py compares).
  std::string tokenizer_file, text_file;
  int repeats = 5;
  CLI::App* tokenize = app.add_subcommand("tokenize", "tokenizer.json load and encode speed");
  tokenize->add_option("--tokenizer", tokenizer_file, "A tokenizer.json")->required();
  tokenize->add_option("--text-file", text_file, "The text to encode (a few MB)")->required();
  tokenize->add_option("--repeats", repeats, "Timed encodes after the first")
      ->check(CLI::NonNegativeNumber);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    torch::set_num_threads(threads);
    const torch::Device device = zili::model::resolve_device(device_flag);
    const c10::ScalarType dtype = !dtype_flag.empty()
                                      ? zili::model::parse_dtype_name(dtype_flag, "--dtype")
                                      : (device.is_cuda() ? torch::kBFloat16 : torch::kFloat32);
    zili::model::set_fused_kernels_enabled(!no_fused);
    if (gemm->parsed()) {
      print(gemm_record(device, dtype, gemm_n > 0 ? gemm_n : (device.is_cuda() ? 8192 : 2048)));
    } else if (dpo->parsed()) {
      if (step.seq < 4 || step.pairs < 1 || step.lora_r < 1 || step.steps < 1 || step.warmup < 0)
        zili::fail("dpo-step: --seq >= 4, --pairs >= 1, --lora-r >= 1, --steps >= 1 expected");
      step.dtype = zili::model::dtype_config_name(dtype);
      // MFU against the compute dtype's rate, measured first in this process.
      const c10::ScalarType compute = zili::model::compute_dtype_for(device, dtype);
      const nlohmann::json rate = gemm_record(device, compute, device.is_cuda() ? 8192 : 2048);
      nlohmann::json record = zili::bench::dpo_step_bench(step, device);
      record["gemm_flops_per_second"] = rate["flops_per_second"];
      record["mfu"] = record["model_flops"].get<double>() / record["step_seconds"].get<double>() /
                      rate["flops_per_second"].get<double>();
      record["threads"] = threads;
      print(record);
    } else if (flops->parsed()) {
      if (step.seq < 4 || step.pairs < 1 || step.lora_r < 1)
        zili::fail("flops: --seq >= 4, --pairs >= 1, --lora-r >= 1 expected");
      print({{"bench", "flops"},
             {"shape", step.shape},
             {"seq", step.seq},
             {"pairs", step.pairs},
             {"lora_r", step.lora_r},
             {"precompute_ref", step.precompute_ref},
             {"model_flops",
              zili::bench::dpo_step_flops(zili::bench::bench_shape(step.shape), step)}});
    } else if (tokenize->parsed()) {
      print(zili::bench::tokenize_bench(tokenizer_file, text_file, repeats));
    } else if (ops->parsed()) {
      if (!device.is_cuda()) zili::fail("ops: the fused kernels run on a GPU; give --device cuda");
      for (const nlohmann::json& record : zili::bench::fused_ops_bench(device, dtype))
        print(record);
    }
  } catch (const std::exception& e) {
    std::string message = e.what();
    message = message.substr(0, message.find('\n'));
    std::fprintf(stderr, "zili-bench: %s\n", message.c_str());
    return 1;
  }
  return 0;
}
