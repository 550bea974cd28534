// zili-bench: measurements of zili's training step and fused ops, printed as one JSON object
// per line (bench/gpu_table.py and bench/run.sh make tables of them). Benchmarks, not tests:
// they assert nothing about time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "model/config.h"

namespace zili::bench {

// Waits for the device's queued work (a no-op on the CPU), so wall-clock time covers it.
void synchronize(torch::Device device);

// Median wall-clock seconds of `repeats` calls of fn after `warmup` untimed ones.
double median_seconds(torch::Device device, int warmup, int repeats,
                      const std::function<void()>& fn);

// The matrix product rate, FLOP/s: C = A B with A, B [n, n] random in `dtype`
// (2 n^3 FLOPs a product), median of 10 after 3 warm-ups.
double gemm_flops_per_second(torch::Device device, c10::ScalarType dtype, int64_t n);

// A model shape by name: zili's presets (tiny, mini, small, medium) with vocab 32000, "1b"
// (TinyLlama-1.1B: 2048 hidden, 22 layers, 32/4 heads) and "7b" (Llama-2-7B: 4096 hidden,
// 11008 intermediate, 32 layers, 32 heads, no GQA).
model::ModelConfig bench_shape(const std::string& name);

struct StepSettings {
  std::string shape = "small";
  int64_t seq = 512;    // tokens per sequence (prompt + completion)
  int64_t pairs = 2;    // chosen + rejected rows: 2 pairs = 4 sequences
  int64_t lora_r = 16;  // all linear layers, alpha 2r, dropout 0
  std::string dtype;    // weights' storage: "" = f32 on the CPU, bf16 on a GPU
  bool grad_checkpoint = false;
  bool precompute_ref = false;  // the reference log-probs come from a file: no reference pass
  int warmup = 1, steps = 5;
  uint64_t seed = 1;
};

// DPO steps (sigmoid loss, beta 0.1) of a random-weight model with LoRA on every linear layer,
// as `zili dpo` runs them: reference pass with the adapters off under no_grad (unless
// precompute_ref), the policy's forward on the chosen and rejected rows together, the loss,
// backward, AdamW. Returns one JSON record: step seconds (median), tokens/s, peak memory,
// model FLOPs a step and the loss of the first step.
nlohmann::json dpo_step_bench(const StepSettings& settings, torch::Device device);

// The model FLOPs of one such step: forward and input-gradient backward of every matmul
// (attention's included, causal: half the T x T products), the reference's forward, and
// LoRA's own products; never the base weights' gradients (frozen) nor recomputation
// (--grad-checkpoint). The formula is written out in docs/perf.md.
double dpo_step_flops(const model::ModelConfig& config, const StepSettings& settings);

// Each fused op against its reference (fused off) on `device`: forward + backward time and
// the achieved GB/s (memory-bound ops) or TFLOP/s (the LoRA linear); one record per op.
std::vector<nlohmann::json> fused_ops_bench(torch::Device device, c10::ScalarType dtype);

// tokenizer.json load seconds (median of 3) and encode MB/s of the text file on one thread:
// the first encode and the median of `repeats` more (bench/tokenize.cpp).
nlohmann::json tokenize_bench(const std::string& tokenizer_path, const std::string& text_path,
                              int repeats);

}  // namespace zili::bench
