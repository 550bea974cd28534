// Parity of the fused target log-probs kernels (kernels/target_logprobs.cu) with the plain ops
// they replace in model::target_logprobs (logsumexp + gather; sub_ exp_ mul_ scatter_add_), on
// fresh random logits: V 32000, 32001, 128256, 1000 and 3 by n 1, 7 and 300, rows whose
// maximum moves all along the row or sits at its start, and rows starting off a 16-byte
// boundary. Outputs are filled with NaN first; the backward works in place, so an element it
// does not write keeps its logit, far from the gradient. Then model::target_logprobs under
// autograd, fused against --no-fused (set_fused_kernels_enabled(false)), in fp32 and bf16.
//
// Tolerances: max |a - b| over the scale the rounding works at: for the kernels' lse and lp,
// max |z| + log V (lp = z[t] - lse cancels when the target dominates its row, so lp's own
// size is no measure); for dz, max |g| (|dz| <= |g|, and where the target dominates a row, dz
// is small with the absolute error of g p); end to end, max |b| over 300 rows.
// The kernels against float64 math on the same fp32 logits: a thread's online sum takes about
// V / 1024 = 125 terms, each with an expf (2 ulp) and an add, plus a rescale (2 ulp) whenever
// its maximum moves; block_sum adds 5 butterfly steps and 32 warp sums. A few hundred
// roundings of 2^-24: 2e-5 relative in the sum at worst, near 1e-6 in practice, which log
// makes an absolute error of lse, against a scale of 7 to 30 (V >= 1000; V = 3 sums 3
// terms). The backward's p = exp(z - lse) inherits the rounding of z - lse (|z - lse| < 30:
// 2e-6 absolute) and expf: 3e-6 of p at most, so 3e-6 |g| in dz. Hence 1e-5 in fp32, against
// float64 and against the plain fp32 ops alike (both within that of the exact value).
// End to end in fp32 the two paths share the GEMMs and differ by those few 1e-7; in bf16,
// hidden's and weight's gradients are rounded to bf16 once at the end (2^-9 relative), where
// fp32 values a few 1e-7 apart may round to neighbouring bf16 values: 1e-2 for them, as in
// the RMSNorm test. lp stays fp32 (1e-5) in every case.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include <torch/torch.h>

#include "kernels/target_logprobs.h"
#include "model/fused.h"
#include "model/logprobs.h"

namespace kernels = zili::kernels;

namespace {

struct Shape {
  int64_t rows, V;
};

std::vector<Shape> shapes() {
  std::vector<Shape> out;
  for (int64_t rows : {1, 7, 300}) {
    for (int64_t V : {32000, 32001, 128256, 1000, 3}) out.push_back({rows, V});
  }
  return out;
}

// max |a - b| / scale, in float64 on b's device; infinite when a holds a NaN or inf (an
// unwritten element).
double err(const torch::Tensor& a, const torch::Tensor& b, double scale) {
  REQUIRE(a.defined());
  REQUIRE(b.defined());
  REQUIRE(a.sizes() == b.sizes());
  REQUIRE(scale > 0);
  const torch::Tensor a64 = a.to(b.device(), torch::kFloat64);
  const torch::Tensor b64 = b.to(torch::kFloat64);
  if (!torch::isfinite(a64).all().item<bool>()) return std::numeric_limits<double>::infinity();
  return (a64 - b64).abs().max().item<double>() / scale;
}

// max |a - b| / max |b|.
double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  return err(a, b, b.abs().max().item<double>());
}

double max_abs(const torch::Tensor& t) {
  return t.abs().max().item<double>();
}

torch::Tensor nans(int64_t n, const torch::Device& device) {
  return torch::full({n}, std::numeric_limits<double>::quiet_NaN(),
                     torch::dtype(torch::kFloat32).device(device));
}

// Fresh random logits z [rows, V] on the GPU, float32, starting `offset` floats past an
// allocation (so 16-byte aligned for offset 0 and V % 4 == 0, otherwise rows start anywhere).
// z = 2 randn + a ramp of 16 over the row, rising on even rows (the maximum drifts to the end:
// the online sums rescale often) and falling on odd ones (the maximum near the start);
// targets [rows] in [0, V), the first row's 0 and the last row's V - 1; g = dL/dlp [rows] of
// both signs.
struct Inputs {
  torch::Tensor z, targets, g;
  Inputs(Shape s, uint64_t seed, int64_t offset = 0) {
    torch::manual_seed(seed);
    const auto opt = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kFloat32);
    const torch::Tensor ramp = torch::linspace(-8, 8, s.V, opt);                   // [V]
    const torch::Tensor sign = 1 - 2 * (torch::arange(s.rows, opt).remainder(2));  // [rows]
    const torch::Tensor values = 2 * torch::randn({s.rows, s.V}, opt) + sign.unsqueeze(1) * ramp;
    z = torch::empty({s.rows * s.V + offset}, opt)
            .narrow(0, offset, s.rows * s.V)
            .view({s.rows, s.V});
    z.copy_(values);
    targets = torch::randint(0, s.V, {s.rows}, opt.dtype(torch::kInt64));
    targets[0] = 0;
    targets[s.rows - 1] = s.V - 1;
    g = torch::randn({s.rows}, opt);
  }
};

// The magnitude the forward's rounding works at: lse <= max z + log V, and lp = z[t] - lse
// cancels (a row whose target dominates has lp near 0, its error that of z[t] and lse).
double forward_scale(const torch::Tensor& z) {
  return max_abs(z) + std::log(static_cast<double>(z.size(1)));
}

// float64 references on the same fp32 logits.
torch::Tensor lse_f64(const torch::Tensor& z) {
  return z.to(torch::kFloat64).logsumexp(1);
}
torch::Tensor lp_f64(const torch::Tensor& z, const torch::Tensor& targets) {
  const torch::Tensor z64 = z.to(torch::kFloat64);
  return z64.gather(1, targets.unsqueeze(1)).squeeze(1) - z64.logsumexp(1);
}
// dz = g (onehot(t) - exp(z - lse)) in float64, given the lse the kernel was given.
torch::Tensor dz_f64(const torch::Tensor& z, const torch::Tensor& lse, const torch::Tensor& targets,
                     const torch::Tensor& g) {
  const torch::Tensor g64 = g.to(torch::kFloat64).unsqueeze(1);
  torch::Tensor dz = -(z.to(torch::kFloat64) - lse.to(torch::kFloat64).unsqueeze(1)).exp() * g64;
  return dz.scatter_add_(1, targets.unsqueeze(1), g64);
}
// The plain fp32 ops model::target_logprobs runs without the kernels.
torch::Tensor dz_plain(const torch::Tensor& z, const torch::Tensor& lse,
                       const torch::Tensor& targets, const torch::Tensor& g) {
  const torch::Tensor chunk_g = g.unsqueeze(1);
  torch::Tensor dz = z.clone();
  dz.sub_(lse.unsqueeze(1)).exp_().mul_(-chunk_g);
  return dz.scatter_add_(1, targets.unsqueeze(1), chunk_g);
}

}  // namespace

TEST_CASE("fused target log-probs forward equals logsumexp and gather", "[gpu][target_logprobs]") {
  uint64_t seed = 1;
  for (const Shape& s : shapes()) {
    for (int64_t offset : {0, 1, 3}) {
      INFO("rows " << s.rows << ", V " << s.V << ", offset " << offset);
      const Inputs in(s, seed++, offset);
      torch::Tensor lse = nans(s.rows, in.z.device()), lp = nans(s.rows, in.z.device());
      kernels::target_logprobs_forward_out(lse, lp, in.z, in.targets);

      const double scale = forward_scale(in.z);
      CHECK(err(lse, lse_f64(in.z), scale) <= 1e-5);
      CHECK(err(lp, lp_f64(in.z, in.targets), scale) <= 1e-5);
      const torch::Tensor lse_plain = in.z.logsumexp(1);
      const torch::Tensor lp_plain = in.z.gather(1, in.targets.unsqueeze(1)).squeeze(1) - lse_plain;
      CHECK(err(lse, lse_plain, scale) <= 1e-5);
      CHECK(err(lp, lp_plain, scale) <= 1e-5);
    }
  }
}

TEST_CASE("fused target log-probs backward equals the plain ops", "[gpu][target_logprobs]") {
  uint64_t seed = 100;
  for (const Shape& s : shapes()) {
    for (int64_t offset : {0, 2}) {
      INFO("rows " << s.rows << ", V " << s.V << ", offset " << offset);
      const Inputs in(s, seed++, offset);
      const torch::Tensor lse = kernels::target_logprobs_forward(in.z, in.targets).lse;
      torch::Tensor dz = in.z.clone();  // clone() is dense: offset 0 again
      if (offset != 0) {
        dz = torch::empty({s.rows * s.V + offset}, in.z.options())
                 .narrow(0, offset, s.rows * s.V)
                 .view({s.rows, s.V})
                 .copy_(in.z);
      }
      kernels::target_logprobs_backward_(dz, lse, in.targets, in.g);
      const double scale = max_abs(in.g);
      CHECK(err(dz, dz_f64(in.z, lse, in.targets, in.g), scale) <= 1e-5);
      CHECK(err(dz, dz_plain(in.z, lse, in.targets, in.g), scale) <= 1e-5);
    }
  }
}

TEST_CASE("fused target log-probs kernels are deterministic", "[gpu][target_logprobs]") {
  const Inputs in({300, 128256}, 7);
  const kernels::TargetLogprobsForward first = kernels::target_logprobs_forward(in.z, in.targets);
  torch::Tensor dz_first = in.z.clone();
  kernels::target_logprobs_backward_(dz_first, first.lse, in.targets, in.g);
  for (int i = 0; i < 3; ++i) {
    const kernels::TargetLogprobsForward again = kernels::target_logprobs_forward(in.z, in.targets);
    CHECK(torch::equal(again.lse, first.lse));
    CHECK(torch::equal(again.lp, first.lp));
    torch::Tensor dz = in.z.clone();
    kernels::target_logprobs_backward_(dz, first.lse, in.targets, in.g);
    CHECK(torch::equal(dz, dz_first));
  }
}

TEST_CASE("fused target log-probs never read a target outside the vocabulary",
          "[gpu][target_logprobs]") {
  const Shape s{4, 1001};
  Inputs in(s, 5);
  in.targets[1] = -1;
  in.targets[2] = s.V;
  const kernels::TargetLogprobsForward out = kernels::target_logprobs_forward(in.z, in.targets);
  // lse is right on every row; lp is NaN on the two bad rows and right on the others.
  const double scale = forward_scale(in.z);
  CHECK(err(out.lse, lse_f64(in.z), scale) <= 1e-5);
  const torch::Tensor lp = out.lp.cpu();
  CHECK(std::isnan(lp[1].item<float>()));
  CHECK(std::isnan(lp[2].item<float>()));
  const torch::Tensor good = torch::tensor({0, 3}, in.targets.options());
  CHECK(err(out.lp.index_select(0, good),
            lp_f64(in.z, in.targets.clamp(0, s.V - 1)).index_select(0, good), scale) <= 1e-5);

  // The backward's bad rows get -g p alone (no one-hot term).
  torch::Tensor dz = in.z.clone();
  kernels::target_logprobs_backward_(dz, out.lse, in.targets, in.g);
  const torch::Tensor minus_g_p =
      -(in.z.to(torch::kFloat64) - out.lse.to(torch::kFloat64).unsqueeze(1)).exp() *
      in.g.to(torch::kFloat64).unsqueeze(1);
  const double g_scale = max_abs(in.g);
  CHECK(err(dz.narrow(0, 1, 2), minus_g_p.narrow(0, 1, 2), g_scale) <= 1e-5);
  CHECK(err(dz.index_select(0, good),
            dz_f64(in.z, out.lse, in.targets.clamp(0, s.V - 1), in.g).index_select(0, good),
            g_scale) <= 1e-5);

  // model::target_logprobs checks the range before the kernels run.
  const torch::Tensor hidden = torch::randn({4, 16}, in.z.options());
  const torch::Tensor weight = torch::randn({s.V, 16}, in.z.options());
  CHECK_THROWS_WITH(zili::model::target_logprobs(hidden, weight, in.targets, 2),
                    Catch::Contains("targets expected in [0, 1001)") &&
                        Catch::Contains("got values from -1 to 1001"));
}

namespace {

// Fused kernels on or off (--no-fused) while in scope; on again after, also on a failure.
struct FusedSwitch {
  explicit FusedSwitch(bool on) { zili::model::set_fused_kernels_enabled(on); }
  ~FusedSwitch() { zili::model::set_fused_kernels_enabled(true); }
  FusedSwitch(const FusedSwitch&) = delete;
  FusedSwitch& operator=(const FusedSwitch&) = delete;
};

// model::target_logprobs(hidden, weight, targets, chunk) and the gradients of
// Σ_n g_n lp_n (or Σ_n lp_n: an expanded gradient), with the fused kernels on or off.
struct Run {
  torch::Tensor lp, dh, dw;
  Run(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
      const torch::Tensor& g, int64_t chunk, bool weight_grad, bool fused) {
    const FusedSwitch with(fused);
    REQUIRE(zili::model::use_fused_kernels(hidden) == fused);
    const torch::Tensor h = hidden.clone().requires_grad_(true);
    const torch::Tensor w = weight.clone().requires_grad_(weight_grad);
    const torch::Tensor out = zili::model::target_logprobs(h, w, targets, chunk);
    if (g.defined()) {
      (out * g).sum().backward();
    } else {
      out.sum().backward();
    }
    lp = out.detach();
    dh = h.grad();
    dw = w.grad();
  }
};

}  // namespace

TEST_CASE("model::target_logprobs takes the fused kernels under autograd on CUDA",
          "[gpu][target_logprobs]") {
  REQUIRE(zili::model::fused_kernels_built());
  struct Case {
    const char* name;
    torch::Dtype hidden_dtype, weight_dtype;
    int64_t V;
    double rel_lp, rel_grad;
  };
  // The bf16-weight cases have more vocabulary rows than one slice of the weight's cast.
  const Case cases[] = {
      {"fp32", torch::kFloat32, torch::kFloat32, 32001, 1e-5, 1e-5},
      {"fp32, V 1000", torch::kFloat32, torch::kFloat32, 1000, 1e-5, 1e-5},
      {"fp32 hidden, bf16 weight", torch::kFloat32, torch::kBFloat16, 32001, 1e-5, 1e-2},
      {"bf16", torch::kBFloat16, torch::kBFloat16, 32001, 1e-5, 1e-2}};
  for (const Case& c : cases) {
    for (bool weight_grad : {false, true}) {
      for (bool expanded_grad : {false, true}) {
        INFO(c.name << ", weight grad " << weight_grad << ", expanded grad " << expanded_grad);
        torch::manual_seed(31);
        const int64_t N = 300, C = 96, chunk = 128;  // chunks of 128, 128 and 44 tokens
        const auto opt = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kFloat32);
        const torch::Tensor hidden = torch::randn({N, C}, opt).to(c.hidden_dtype);
        const torch::Tensor weight = (0.3 * torch::randn({c.V, C}, opt)).to(c.weight_dtype);
        const torch::Tensor targets = torch::randint(0, c.V, {N}, opt.dtype(torch::kInt64));
        const torch::Tensor g = expanded_grad ? torch::Tensor() : torch::randn({N}, opt);

        const Run fused(hidden, weight, targets, g, chunk, weight_grad, true);
        const Run plain(hidden, weight, targets, g, chunk, weight_grad, false);
        REQUIRE(fused.lp.scalar_type() == torch::kFloat32);
        REQUIRE(fused.dh.scalar_type() == c.hidden_dtype);
        CHECK(rel_err(fused.lp, plain.lp) <= c.rel_lp);
        CHECK(rel_err(fused.dh, plain.dh) <= c.rel_grad);
        if (weight_grad) {
          REQUIRE(fused.dw.scalar_type() == c.weight_dtype);
          CHECK(rel_err(fused.dw, plain.dw) <= c.rel_grad);
        } else {
          CHECK_FALSE(fused.dw.defined());
        }
        // And against float64 math on the same inputs, the whole logits at once.
        const torch::Tensor lp64 = zili::model::target_logprobs(
            hidden.to(torch::kFloat64), weight.to(torch::kFloat64), targets, 0);
        CHECK(rel_err(fused.lp, lp64) <= 1e-5);
      }
    }
  }
}

TEST_CASE("model::target_logprobs keeps the plain ops for float64 and empty input on CUDA",
          "[gpu][target_logprobs]") {
  torch::manual_seed(3);
  const auto opt = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kFloat64);
  const torch::Tensor hidden = torch::randn({9, 16}, opt);
  const torch::Tensor weight = torch::randn({1001, 16}, opt);
  const torch::Tensor targets = torch::randint(0, 1001, {9}, opt.dtype(torch::kInt64));
  const torch::Tensor g = torch::randn({9}, opt);
  const Run on(hidden, weight, targets, g, 4, true, true);
  const Run off(hidden, weight, targets, g, 4, true, false);
  CHECK(on.lp.scalar_type() == torch::kFloat64);
  CHECK(rel_err(on.lp, off.lp) <= 1e-12);
  CHECK(rel_err(on.dh, off.dh) <= 1e-12);
  CHECK(rel_err(on.dw, off.dw) <= 1e-12);

  // No positions: an empty result and a backward that runs.
  const torch::Tensor none = torch::randn({0, 16}, opt.dtype(torch::kFloat32)).requires_grad_(true);
  const torch::Tensor lp = zili::model::target_logprobs(
      none, weight.to(torch::kFloat32), torch::zeros({0}, opt.dtype(torch::kInt64)), 4);
  CHECK(lp.numel() == 0);
  lp.sum().backward();
}

TEST_CASE("fused target log-probs reject bad tensors with expected and actual",
          "[gpu][target_logprobs]") {
  const Inputs in({4, 130}, 3);
  using Catch::Contains;
  const auto forward = [](const torch::Tensor& z, const torch::Tensor& targets) {
    return kernels::target_logprobs_forward(z, targets);
  };
  CHECK_THROWS_WITH(forward(in.z.cpu(), in.targets),
                    Contains("z expected on a CUDA device, got cpu"));
  CHECK_THROWS_WITH(forward(in.z.to(torch::kFloat64), in.targets),
                    Contains("z expected float32, got Double"));
  CHECK_THROWS_WITH(forward(in.z.reshape({-1}), in.targets),
                    Contains("z expected [n, V] with V > 0, got [520]"));
  CHECK_THROWS_WITH(forward(in.z.narrow(1, 0, 0), in.targets),
                    Contains("z expected [n, V] with V > 0, got [4, 0]"));
  CHECK_THROWS_WITH(forward(in.z.narrow(1, 0, 129), in.targets), Contains("z expected contiguous"));
  CHECK_THROWS_WITH(forward(in.z, in.targets.narrow(0, 0, 3)),
                    Contains("targets expected [4], got [3]"));
  CHECK_THROWS_WITH(forward(in.z, in.targets.to(torch::kInt32)),
                    Contains("targets expected Long, got Int"));
  CHECK_THROWS_WITH(forward(in.z, in.targets.cpu()), Contains("targets expected on cuda:0 (z)"));

  torch::Tensor lse = nans(4, in.z.device()), lp_cpu = torch::empty({4});
  CHECK_THROWS_WITH(kernels::target_logprobs_forward_out(lse, lp_cpu, in.z, in.targets),
                    Contains("lp expected on cuda:0 (z), got cpu"));
  torch::Tensor lse_strided = torch::empty({8}, in.z.options()).slice(0, 0, 8, 2);
  torch::Tensor lp = nans(4, in.z.device());
  CHECK_THROWS_WITH(kernels::target_logprobs_forward_out(lse_strided, lp, in.z, in.targets),
                    Contains("lse expected contiguous"));

  torch::Tensor dz = in.z.clone();
  const torch::Tensor good_lse = kernels::target_logprobs_forward(in.z, in.targets).lse;
  CHECK_THROWS_WITH(
      kernels::target_logprobs_backward_(dz, good_lse, in.targets, in.g.narrow(0, 0, 3)),
      Contains("g expected [4], got [3]"));
  CHECK_THROWS_WITH(
      kernels::target_logprobs_backward_(dz, good_lse.to(torch::kFloat64), in.targets, in.g),
      Contains("lse expected Float, got Double"));
  CHECK(torch::equal(dz, in.z));  // nothing was written
}
