// Each fused op against its reference on a GPU: forward and backward together, the same
// inputs, the fused kernels switched on and off (model::set_fused_kernels_enabled).
// Shapes are a Llama-2-7B layer's for a DPO step of 2 pairs x 1024 tokens: 4096 tokens.
#include "bench/bench.h"
#include "lora/lora_linear.h"
#include "lora/lora_shared_input.h"
#include "model/fused.h"
#include "model/logprobs.h"
#include "model/rms_norm.h"
#include "model/rope.h"
#include "model/swiglu.h"

namespace zili::bench {
namespace {

constexpr int kWarmup = 3, kRepeats = 20;

struct OpTiming {
  double fused_seconds = 0, reference_seconds = 0;
};

// fn() runs forward and backward once; timed with the fused kernels on, then off.
OpTiming time_both(torch::Device device, const std::function<void()>& fn) {
  OpTiming t;
  model::set_fused_kernels_enabled(true);
  t.fused_seconds = median_seconds(device, kWarmup, kRepeats, fn);
  model::set_fused_kernels_enabled(false);
  t.reference_seconds = median_seconds(device, kWarmup, kRepeats, fn);
  model::set_fused_kernels_enabled(true);
  return t;
}

// A record with the achieved rate of each path: GB/s from the bytes an op must move at
// least (memory-bound ops), or TFLOP/s from the FLOPs it must do.
nlohmann::json record(const std::string& op, const std::string& shape, c10::ScalarType dtype,
                      const OpTiming& t, double bytes, double flops) {
  nlohmann::json r = {{"bench", "fused_op"},
                      {"op", op},
                      {"shape", shape},
                      {"dtype", c10::toString(dtype)},
                      {"fused_ms", t.fused_seconds * 1e3},
                      {"reference_ms", t.reference_seconds * 1e3},
                      {"speedup", t.reference_seconds / t.fused_seconds}};
  if (bytes > 0) {
    r["fused_gb_per_s"] = bytes / t.fused_seconds / 1e9;
    r["reference_gb_per_s"] = bytes / t.reference_seconds / 1e9;
  }
  if (flops > 0) {
    r["fused_tflop_per_s"] = flops / t.fused_seconds / 1e12;
    r["reference_tflop_per_s"] = flops / t.reference_seconds / 1e12;
  }
  return r;
}

constexpr int64_t kTokens = 4096, kHidden = 4096, kIntermediate = 11008, kVocab = 32000;
constexpr int64_t kRank = 16;

}  // namespace

std::vector<nlohmann::json> fused_ops_bench(torch::Device device, c10::ScalarType dtype) {
  std::vector<nlohmann::json> out;
  const auto options = torch::TensorOptions().device(device).dtype(dtype);
  const double element = static_cast<double>(c10::elementSize(dtype));
  torch::manual_seed(0);

  {  // RMSNorm: x [N, C]; forward reads x and writes y, backward reads dy and x, writes dx.
    const torch::Tensor x = torch::randn({kTokens, kHidden}, options).requires_grad_(true);
    const torch::Tensor weight = (1 + 0.1 * torch::randn({kHidden}, options)).requires_grad_(true);
    const torch::Tensor dy = torch::randn_like(x);
    const OpTiming t = time_both(device, [&] {
      model::rms_norm(x, weight, 1e-5).backward(dy);
      x.mutable_grad().reset();
      weight.mutable_grad().reset();
    });
    out.push_back(
        record("rms_norm", "[4096, 4096]", dtype, t, 5.0 * kTokens * kHidden * element, 0));
  }

  {  // RoPE on q [B, H, T, D] as the model has it (a transposed view of [B, T, H, D]); forward
     // and backward each read and write q once (cos, sin [B, T, D] float32 are small).
    constexpr int64_t B = 4, T = kTokens / 4, H = 32, D = 128;
    const torch::Tensor q =
        torch::randn({B, T, H, D}, options).transpose(1, 2).requires_grad_(true);  // [B, H, T, D]
    const torch::Tensor angles = torch::arange(T, options.dtype(torch::kFloat32)).view({1, T, 1}) *
                                 torch::rand({1, 1, D / 2}, options.dtype(torch::kFloat32));
    const torch::Tensor both = torch::cat({angles, angles}, -1).expand({B, T, D}).contiguous();
    const torch::Tensor cos = both.cos(), sin = both.sin();
    const torch::Tensor dy = torch::randn_like(q);
    const OpTiming t = time_both(device, [&] {
      model::rope(q, cos, sin).backward(dy);
      q.mutable_grad().reset();
    });
    out.push_back(record("rope", "q [4, 32, 1024, 128]", dtype, t, 4.0 * q.numel() * element, 0));
  }

  {  // SwiGLU: gate, up [N, F]; forward reads both and writes h, backward reads dh, gate, up
     // and writes both gradients.
    const torch::Tensor gate = torch::randn({kTokens, kIntermediate}, options).requires_grad_(true);
    const torch::Tensor up = torch::randn({kTokens, kIntermediate}, options).requires_grad_(true);
    const torch::Tensor dh = torch::randn({kTokens, kIntermediate}, options);
    const OpTiming t = time_both(device, [&] {
      model::swiglu(gate, up).backward(dh);
      gate.mutable_grad().reset();
      up.mutable_grad().reset();
    });
    out.push_back(
        record("swiglu", "[4096, 11008]", dtype, t, 8.0 * kTokens * kIntermediate * element, 0));
  }

  {  // Token log-probs over the vocabulary: h [N, C], lm_head [V, C]; forward makes the
     // logits once (2 N C V), backward remakes them and multiplies back (4 N C V).
    const torch::Tensor hidden = torch::randn({kTokens, kHidden}, options).requires_grad_(true);
    const torch::Tensor weight = 0.02 * torch::randn({kVocab, kHidden}, options);
    const torch::Tensor targets = torch::randint(kVocab, {kTokens}, options.dtype(torch::kInt64));
    const OpTiming t = time_both(device, [&] {
      model::target_logprobs(hidden, weight, targets, 256).sum().backward();
      hidden.mutable_grad().reset();
    });
    out.push_back(record("target_logprobs", "[4096, 4096] x [32000, 4096]", dtype, t, 0,
                         6.0 * kTokens * kHidden * kVocab));
  }

  {  // The LoRA linear, gate_proj-sized: the custom backward against plain ops' autograd.
    const torch::Tensor x = torch::randn({kTokens, kHidden}, options).requires_grad_(true);
    const torch::Tensor weight = 0.02 * torch::randn({kIntermediate, kHidden}, options);
    const auto fp32 = options.dtype(torch::kFloat32);
    const torch::Tensor a = (0.02 * torch::randn({kRank, kHidden}, fp32)).requires_grad_(true);
    const torch::Tensor b =
        (0.02 * torch::randn({kIntermediate, kRank}, fp32)).requires_grad_(true);
    const torch::Tensor dy = torch::randn({kTokens, kIntermediate}, options);
    const auto run = [&](bool custom) {
      (custom ? lora::lora_linear : lora::lora_linear_reference)(x, weight, {}, a, b, 2.0, {})
          .backward(dy);
      for (const torch::Tensor* p : {&x, &a, &b}) p->mutable_grad().reset();
    };
    OpTiming t;
    t.fused_seconds = median_seconds(device, kWarmup, kRepeats, [&] { run(true); });
    t.reference_seconds = median_seconds(device, kWarmup, kRepeats, [&] { run(false); });
    // Forward 2 N in out + LoRA 2 N r (in + out); backward dX 2 N in out + LoRA 4 N r (in + out).
    const double flops =
        4.0 * kTokens * kHidden * kIntermediate + 6.0 * kTokens * kRank * (kHidden + kIntermediate);
    out.push_back(record("lora_linear", "[4096, 4096] -> 11008, r 16", dtype, t, 0, flops));

    // With LoRA dropout 0.1: fused, the hashed mask applied inside the kernels
    // (kernels/lora_dropout.cu); reference, bernoulli_ drawn forward and again backward, with
    // the [N, in] mask made and multiplied twice.
    const OpTiming t_dropout = time_both(device, [&] {
      lora::lora_linear_with_dropout(x, weight, {}, a, b, 2.0, 0.1).backward(dy);
      for (const torch::Tensor* p : {&x, &a, &b}) p->mutable_grad().reset();
    });
    out.push_back(record("lora_linear dropout 0.1", "[4096, 4096] -> 11008, r 16", dtype, t_dropout,
                         0, flops));
  }

  {  // q/k/v's LoRA paths from one read of x (lora_linear_shared_input) against three
     // lora_linear calls; Llama-2-7B's attention: in 4096, each projection 4096 wide.
    const torch::Tensor x = torch::randn({kTokens, kHidden}, options).requires_grad_(true);
    const auto fp32 = options.dtype(torch::kFloat32);
    std::vector<torch::Tensor> weights, biases(3), as, bs;
    for (int i = 0; i < 3; ++i) {
      weights.push_back(0.02 * torch::randn({kHidden, kHidden}, options));
      as.push_back((0.02 * torch::randn({kRank, kHidden}, fp32)).requires_grad_(true));
      bs.push_back((0.02 * torch::randn({kHidden, kRank}, fp32)).requires_grad_(true));
    }
    const std::vector<double> scales(3, 2.0);
    const std::vector<torch::Tensor> dys(3, torch::randn({kTokens, kHidden}, options));
    const auto reset = [&] {
      x.mutable_grad().reset();
      for (int i = 0; i < 3; ++i) as[i].mutable_grad().reset(), bs[i].mutable_grad().reset();
    };
    OpTiming t;
    t.fused_seconds = median_seconds(device, kWarmup, kRepeats, [&] {
      torch::autograd::backward(lora::lora_linear_shared_input(x, weights, biases, as, bs, scales),
                                dys);
      reset();
    });
    t.reference_seconds = median_seconds(device, kWarmup, kRepeats, [&] {
      std::vector<torch::Tensor> ys;
      for (int i = 0; i < 3; ++i) {
        ys.push_back(lora::lora_linear(x, weights[i], {}, as[i], bs[i], scales[i], {}));
      }
      torch::autograd::backward(ys, dys);
      reset();
    });
    const double flops =
        3 * (4.0 * kTokens * kHidden * kHidden + 6.0 * kTokens * kRank * 2 * kHidden);
    out.push_back(
        record("lora q/k/v shared input", "[4096, 4096] -> 3 x 4096, r 16", dtype, t, 0, flops));
  }
  return out;
}

}  // namespace zili::bench
