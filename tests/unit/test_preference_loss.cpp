// The preference losses of `zili dpo` against numbers worked out by hand from given log-probs,
// including margins of +-1000 where a naive log(sigmoid(x)) gives log(0) = -inf; their
// gradients (closed forms and central differences); names and settings checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "dpo/preference_loss.h"
#include "util/error.h"

using namespace zili;
using dpo::PreferenceLoss;

namespace {

// Summed completion log-probs of a few pairs, token counts, chosen NLL: one value per pair.
struct Pairs {
  std::vector<double> pc, pr, rc, rr;  // policy / reference, chosen / rejected
  std::vector<double> nc, nr;          // completion token counts
  std::vector<double> nll;             // mean NLL per chosen token (orpo, sft_weight)
};

torch::Tensor f64(const std::vector<double>& v) {
  return torch::tensor(v, torch::kFloat64);
}

// The log-ratios c = pc - rc, r = pr - rr and margin d = c - r of the two fixtures:
//   moderate (beta 0.1): A: c = 2, r = -3, d = 5; nc = 2, nr = 3
//                        B: c = -1, r = 3, d = -4; nc = 1, nr = 3
//   huge (beta 1):      H+: c = 500, r = -500, d = 1000; nc = 100, nr = 250
//                       H-: c = -500, r = 500, d = -1000; nc = 100, nr = 250
const Pairs kModerate = {{-10, -20}, {-14, -8}, {-12, -19}, {-11, -11}, {2, 1}, {3, 3}, {}};
const Pairs kHuge = {
    {-100, -600}, {-900, -400}, {-600, -100}, {-400, -900}, {100, 100}, {250, 250}, {}};

dpo::PreferenceLogps logps_of(const Pairs& p) {
  dpo::PreferenceLogps in;
  in.policy_chosen_logps = f64(p.pc);
  in.policy_rejected_logps = f64(p.pr);
  if (!p.rc.empty()) in.ref_chosen_logps = f64(p.rc);
  if (!p.rr.empty()) in.ref_rejected_logps = f64(p.rr);
  in.chosen_tokens = f64(p.nc);
  in.rejected_tokens = f64(p.nr);
  if (!p.nll.empty()) in.chosen_nll = f64(p.nll);
  return in;
}

std::vector<double> values(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

void require_values(const torch::Tensor& t, const std::vector<double>& expected) {
  const std::vector<double> got = values(t);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("pair " << i << ": got " << got[i] << ", expected " << expected[i]);
    REQUIRE(std::isfinite(got[i]));
    REQUIRE(got[i] == Approx(expected[i]).epsilon(1e-12).margin(1e-12));
  }
}

dpo::PreferenceLossOutput run(PreferenceLoss loss, const Pairs& pairs, double beta,
                              double label_smoothing = 0.0) {
  dpo::PreferenceSettings s;
  s.beta = beta;
  s.label_smoothing = label_smoothing;
  dpo::check_preference_settings(loss, s);
  return dpo::preference_loss(loss, logps_of(pairs), s);
}

// Losses of the moderate fixture at beta 0.1 and of the huge one at beta 1.
void require_losses(PreferenceLoss loss, double label_smoothing,
                    const std::vector<double>& moderate, const std::vector<double>& huge) {
  require_values(run(loss, kModerate, 0.1, label_smoothing).losses, moderate);
  require_values(run(loss, kHuge, 1.0, label_smoothing).losses, huge);
}

// sp(x) = log(1 + e^x) = -log s(-x) below; sp(-x) = sp(x) - x.

}  // namespace

TEST_CASE("sigmoid: -(1 - e) log s(b d) - e log s(-b d)") {
  // e = 0. A: b d = 0.5, sp(-0.5) = log(1 + e^-0.5) = log(1.60653066) = 0.47407698418010670.
  //        B: b d = -0.4, sp(0.4) = log(1 + e^0.4) = log(2.49182470) = 0.91301525239995260.
  //       H+: b d = 1000, sp(-1000) = e^-1000 = 0 in f64.
  //       H-: b d = -1000, sp(1000) = 1000 (naive -log(sigmoid(-1000)) = -log(0) = inf).
  require_losses(PreferenceLoss::sigmoid, 0.0, {0.4740769841801067, 0.9130152523999526},
                 {0.0, 1000.0});
  // e = 0.1: (1 - e) sp(-x) + e sp(x) = sp(-x) + e x with x = b d.
  //   A: 0.47407698 + 0.05 = 0.52407698; B: 0.91301525 - 0.04 = 0.87301525;
  //  H+: 0 + 100 = 100; H-: 1000 - 100 = 900.
  require_losses(PreferenceLoss::sigmoid, 0.1, {0.5240769841801067, 0.8730152523999526},
                 {100.0, 900.0});
}

TEST_CASE("sigmoid: rewards are beta times the log-ratios, detached") {
  const dpo::PreferenceLossOutput out = run(PreferenceLoss::sigmoid, kModerate, 0.1);
  require_values(out.chosen_rewards, {0.2, -0.1});    // 0.1 * c: c = 2, -1
  require_values(out.rejected_rewards, {-0.3, 0.3});  // 0.1 * r: r = -3, 3
  const dpo::PreferenceLossOutput huge = run(PreferenceLoss::sigmoid, kHuge, 1.0);
  require_values(huge.chosen_rewards, {500.0, -500.0});
  require_values(huge.rejected_rewards, {-500.0, 500.0});
}

TEST_CASE("ipo: (c / nc - r / nr - 1 / (2 b))^2") {
  // beta 0.1, 1 / (2 b) = 5. A: 2/2 - (-3/3) - 5 = -3 -> 9.  B: -1/1 - 3/3 - 5 = -7 -> 49.
  // beta 1, 1 / (2 b) = 0.5. H+: 500/100 - (-500/250) - 0.5 = 6.5 -> 42.25.
  //                          H-: -5 - 2 - 0.5 = -7.5 -> 56.25.
  require_losses(PreferenceLoss::ipo, 0.0, {9.0, 49.0}, {42.25, 56.25});
}

TEST_CASE("hinge: max(0, 1 - b d)") {
  // A: 1 - 0.5 = 0.5; B: 1 + 0.4 = 1.4; H+: max(0, -999) = 0; H-: 1 + 1000 = 1001.
  require_losses(PreferenceLoss::hinge, 0.0, {0.5, 1.4}, {0.0, 1001.0});
}

TEST_CASE("robust: (-(1 - e) log s(x) + e log s(-x)) / (1 - 2 e), x = b d") {
  // = ((1 - e) sp(-x) - e sp(x)) / (1 - 2e) = ((1 - 2e) sp(-x) - e x) / (1 - 2e)
  // = sp(-x) - e x / (1 - 2e); e = 0.2: sp(-x) - x / 3.
  //   A: 0.47407698 - 0.5/3 = 0.30741032;  B: 0.91301525 + 0.4/3 = 1.04634859;
  //  H+: 0 - 1000/3 = -333.33333;          H-: 1000 + 1000/3 = 1333.33333.
  require_losses(PreferenceLoss::robust, 0.2, {0.30741031751344006, 1.046348585733286},
                 {-1000.0 / 3.0, 1000.0 + 1000.0 / 3.0});
  // e = 0 is plain DPO.
  require_losses(PreferenceLoss::robust, 0.0, {0.4740769841801067, 0.9130152523999526},
                 {0.0, 1000.0});
}

TEST_CASE("bco_pair: -log s(b c) - log s(-b r)") {
  // = sp(-b c) + sp(b r).
  //   A: sp(-0.2) + sp(-0.3) = 0.59813887 + 0.55435524 = 1.15249411.
  //   B: sp(0.1) + sp(0.3) = 0.74439666 + 0.85435524 = 1.59875190.
  //  H+: sp(-500) + sp(-500) = 2 e^-500 = 1.42491528e-217.  H-: sp(500) + sp(500) = 1000.
  require_losses(PreferenceLoss::bco_pair, 0.0, {1.152494113850119, 1.5987519045420981},
                 {1.4249152813482571e-217, 1000.0});
}

TEST_CASE("sppo_hard: (c - 1 / (2 b))^2 + (r + 1 / (2 b))^2") {
  // beta 0.1: A: (2 - 5)^2 + (-3 + 5)^2 = 9 + 4 = 13;  B: (-1 - 5)^2 + (3 + 5)^2 = 36 + 64 = 100.
  // beta 1: H+: 499.5^2 + (-499.5)^2 = 499000.5;  H-: (-500.5)^2 + 500.5^2 = 501000.5.
  require_losses(PreferenceLoss::sppo_hard, 0.0, {13.0, 100.0}, {499000.5, 501000.5});
}

TEST_CASE("nca_pair: -log s(b c) - 1/2 log s(-b c) - 1/2 log s(-b r)") {
  // = sp(-b c) + sp(b c) / 2 + sp(b r) / 2.
  //   A: sp(-0.2) + sp(0.2)/2 + sp(-0.3)/2 = 0.59813887 + 0.39906943 + 0.27717762 = 1.27438593.
  //   B: sp(0.1) + sp(-0.1)/2 + sp(0.3)/2 = 0.74439666 + 0.32219833 + 0.42717762 = 1.49377261.
  //  H+: sp(-500) + sp(500)/2 + sp(-500)/2 = 250.  H-: sp(500) + sp(-500)/2 + sp(500)/2 = 750.
  require_losses(PreferenceLoss::nca_pair, 0.0, {1.2743859263066513, 1.4937726123446198},
                 {250.0, 750.0});
}

TEST_CASE("apo_zero: 1 - s(b c) + s(b r)") {
  //   A: s(-0.2) + s(-0.3) = 0.45016600 + 0.42555748 = 0.87572349.
  //   B: s(0.1) + s(0.3) = 0.52497919 + 0.57444252 = 1.09942170.
  //  H+: s(-500) + s(-500) = 1.4e-217 ~ 0.  H-: s(500) + s(500) = 2.
  require_losses(PreferenceLoss::apo_zero, 0.0, {0.8757234858758631, 1.0994217042905992},
                 {0.0, 2.0});
}

TEST_CASE("apo_down: s(b c) + 1 - s(b d)") {
  //   A: s(0.2) + s(-0.5) = 0.54983400 + 0.37754067 = 0.92737467.
  //   B: s(-0.1) + s(0.4) = 0.47502081 + 0.59868766 = 1.07370847.
  //  H+: s(500) + s(-1000) = 1.  H-: s(-500) + s(1000) = 1.
  require_losses(PreferenceLoss::apo_down, 0.0, {0.9273746661106235, 1.073708472633512},
                 {1.0, 1.0});
}

TEST_CASE("exo_pair: s(x) (log s(x) - log(1 - e)) + s(-x) (log s(-x) - log e), x = b d") {
  // e = 1e-3: log(1 - e) = -0.00100050, log e = -6.90775528.
  //   A: x = 0.5: 0.62245933 (-0.47407698 + 0.00100050) + 0.37754067 (-0.97407698 + 6.90775528)
  //      = -0.29446967 + 2.24020367 = 1.94573400.
  //   B: x = -0.4: 0.40131234 (-0.91301525 + 0.00100050) + 0.59868766 (-0.51301525 + 6.90775528)
  //      = -0.36600416 + 3.82845333 = 3.46244917.
  //  H+: x = 1000: 1 (0 + 0.00100050) + 0 (-1000 + 6.9) = -log(1 - e) = 0.00100050
  //      (naive: 0 * log(sigmoid(-1000)) = 0 * -inf = NaN).
  //  H-: x = -1000: 0 (...) + 1 (0 + 6.90775528) = -log e = log 1000.
  require_losses(PreferenceLoss::exo_pair, 1e-3, {1.9457340001101662, 3.4624491693782105},
                 {0.0010005003335835335, 6.907755278982137});
}

TEST_CASE("simpo: -(1 - e) log s(b m) - e log s(-b m), m = pc/nc - pr/nr - gamma/b") {
  // beta 2, gamma 1: gamma / b = 0.5. No reference.
  //   1: pc/nc = -6/3 = -2, pr/nr = -10/4 = -2.5: m = 0, loss sp(0) = log 2.
  //   2: -3/3 = -1, -12/4 = -3: m = 1.5, b m = 3, loss sp(-3) = 0.04858735.
  //   3: -10/10 = -1, -4000/4 = -1000: m = 998.5, b m = 1997, loss sp(-1997) = 0.
  //   4: -4000/4 = -1000, -10/10 = -1: m = -999.5, b m = -1999, loss sp(1999) = 1999.
  const Pairs pairs = {{-6, -3, -10, -4000}, {-10, -12, -4000, -10}, {}, {},
                       {3, 3, 10, 4},        {4, 4, 4, 10},          {}};
  dpo::PreferenceSettings s;
  s.beta = 2.0;
  s.simpo_gamma = 1.0;
  REQUIRE_FALSE(dpo::needs_reference(PreferenceLoss::simpo));
  dpo::PreferenceLossOutput out = dpo::preference_loss(PreferenceLoss::simpo, logps_of(pairs), s);
  require_values(out.losses, {0.6931471805599453, 0.04858735157374206, 0.0, 1999.0});
  // Rewards as CPOTrainer logs them: b * mean token log-prob.
  require_values(out.chosen_rewards, {-4.0, -2.0, -2.0, -2000.0});
  require_values(out.rejected_rewards, {-5.0, -6.0, -2000.0, -2.0});
  // e = 0.1: sp(-x) + e x with x = b m: log 2 + 0; 0.04858735 + 0.3; 0 + 199.7; 1999 - 199.9.
  s.label_smoothing = 0.1;
  out = dpo::preference_loss(PreferenceLoss::simpo, logps_of(pairs), s);
  require_values(out.losses, {0.6931471805599453, 0.34858735157374204, 199.7, 1799.1});
}

TEST_CASE("orpo: nll - lambda log s(log odds(ac) - log odds(ar)), log odds(a) = a - log(1 - e^a)") {
  // lambda 0.1; ac, ar mean token log-probs.
  //   1: ac = -ln 2 (p = 1/2, odds 1, log odds 0), ar = -ln 4 (p = 1/4, odds 1/3, log odds -ln 3):
  //      difference ln 3, loss = 0.7 + 0.1 sp(-ln 3) = 0.7 + 0.1 ln(4/3) = 0.72876821.
  //   2: swapped: difference -ln 3, loss = 0.7 + 0.1 sp(ln 3) = 0.7 + 0.1 ln 4 = 0.83862944.
  //   3: ac = -e^-500 (p = 1 - e^-500: log odds = -e^-500 - log(e^-500) = 500; naive
  //      log(1 - exp(ac)) = log(0)), ar = -1000 (log odds -1000): difference 1500, loss = nll.
  //   4: swapped: difference -1500, loss = 0.7 + 0.1 * 1500 = 150.7.
  const double ln2 = std::log(2.0), ln4 = std::log(4.0), tiny = std::exp(-500.0);
  const Pairs pairs = {{-2 * ln2, -3 * ln4, -tiny, -1000},
                       {-3 * ln4, -2 * ln2, -1000, -tiny},
                       {},
                       {},
                       {2, 3, 1, 1},
                       {3, 2, 1, 1},
                       {0.7, 0.7, 0.7, 0.7}};
  dpo::PreferenceSettings s;
  s.orpo_lambda = 0.1;
  REQUIRE_FALSE(dpo::needs_reference(PreferenceLoss::orpo));
  REQUIRE(dpo::needs_chosen_nll(PreferenceLoss::orpo, s));
  const dpo::PreferenceLossOutput out =
      dpo::preference_loss(PreferenceLoss::orpo, logps_of(pairs), s);
  require_values(out.losses, {0.728768207245178, 0.838629436111989, 0.7, 150.7});
  // Rewards as ORPOTrainer logs them: lambda * mean token log-prob.
  require_values(out.chosen_rewards, {-0.1 * ln2, -0.1 * ln4, -0.1 * tiny, -100.0});
  require_values(out.rejected_rewards, {-0.1 * ln4, -0.1 * ln2, -100.0, -0.1 * tiny});
}

TEST_CASE("sft_weight adds w * chosen NLL to every pair's loss (RPO)") {
  Pairs pairs = kModerate;
  pairs.nll = {1.5, 2.5};
  dpo::PreferenceSettings s;
  s.sft_weight = 0.5;
  REQUIRE(dpo::needs_chosen_nll(PreferenceLoss::sigmoid, s));
  // sigmoid as above + 0.5 * 1.5 and + 0.5 * 2.5.
  require_values(dpo::preference_loss(PreferenceLoss::sigmoid, logps_of(pairs), s).losses,
                 {0.4740769841801067 + 0.75, 0.9130152523999526 + 1.25});
}

TEST_CASE("sigmoid gradient: dL/dpc = -b s(-b d) = -dL/dpr, finite at any margin") {
  for (const auto& [pairs, beta] : {std::pair{kModerate, 0.1}, std::pair{kHuge, 1.0}}) {
    dpo::PreferenceLogps in = logps_of(pairs);
    in.policy_chosen_logps.requires_grad_(true);
    in.policy_rejected_logps.requires_grad_(true);
    dpo::PreferenceSettings s;
    s.beta = beta;
    const dpo::PreferenceLossOutput out = dpo::preference_loss(PreferenceLoss::sigmoid, in, s);
    REQUIRE_FALSE(out.chosen_rewards.requires_grad());
    REQUIRE_FALSE(out.rejected_rewards.requires_grad());
    out.losses.sum().backward();
    // A: -0.1 s(-0.5) = -0.037754067; B: -0.1 s(0.4) = -0.059868766;
    // H+: -s(-1000) = 0; H-: -s(1000) = -1.
    const std::vector<double> expected =
        beta == 0.1 ? std::vector<double>{-0.1 * 0.37754066879814546, -0.1 * 0.598687660112452}
                    : std::vector<double>{0.0, -1.0};
    require_values(in.policy_chosen_logps.grad(), expected);
    require_values(-in.policy_rejected_logps.grad(), expected);
  }
}

TEST_CASE("every loss: autograd equals central differences (float64, random log-probs)") {
  torch::manual_seed(3);
  const int64_t P = 5;
  dpo::PreferenceLogps base;
  base.policy_chosen_logps = -5 - 25 * torch::rand({P}, torch::kFloat64);
  base.policy_rejected_logps = -5 - 25 * torch::rand({P}, torch::kFloat64);
  base.ref_chosen_logps = -5 - 25 * torch::rand({P}, torch::kFloat64);
  base.ref_rejected_logps = -5 - 25 * torch::rand({P}, torch::kFloat64);
  base.chosen_tokens = torch::randint(3, 11, {P}, torch::kFloat64);
  base.rejected_tokens = torch::randint(3, 11, {P}, torch::kFloat64);
  base.chosen_nll = 0.5 + torch::rand({P}, torch::kFloat64);
  const std::vector<std::pair<PreferenceLoss, double>> losses = {
      {PreferenceLoss::sigmoid, 0.1},  {PreferenceLoss::ipo, 0.0},
      {PreferenceLoss::hinge, 0.0},    {PreferenceLoss::robust, 0.1},
      {PreferenceLoss::bco_pair, 0.0}, {PreferenceLoss::sppo_hard, 0.0},
      {PreferenceLoss::nca_pair, 0.0}, {PreferenceLoss::apo_zero, 0.0},
      {PreferenceLoss::apo_down, 0.0}, {PreferenceLoss::exo_pair, 1e-3},
      {PreferenceLoss::simpo, 0.1},    {PreferenceLoss::orpo, 0.0}};
  for (const auto& [loss, smoothing] : losses) {
    INFO(dpo::preference_loss_name(loss));
    dpo::PreferenceSettings s;
    s.beta = 0.3;
    s.label_smoothing = smoothing;
    s.sft_weight = loss == PreferenceLoss::orpo ? 0.0 : 0.2;
    dpo::check_preference_settings(loss, s);
    // d/dx sum(losses) for x in policy_chosen, policy_rejected, chosen_nll.
    for (torch::Tensor dpo::PreferenceLogps::*input :
         {&dpo::PreferenceLogps::policy_chosen_logps, &dpo::PreferenceLogps::policy_rejected_logps,
          &dpo::PreferenceLogps::chosen_nll}) {
      dpo::PreferenceLogps in = base;
      in.*input = (base.*input).clone().requires_grad_(true);
      dpo::preference_loss(loss, in, s).losses.sum().backward();
      const torch::Tensor grad = (in.*input).grad();
      const double h = 1e-6;
      for (int64_t i = 0; i < P; ++i) {
        dpo::PreferenceLogps plus = base, minus = base;
        plus.*input = (base.*input).clone();
        minus.*input = (base.*input).clone();
        (plus.*input)[i] += h;
        (minus.*input)[i] -= h;
        const double numeric = (dpo::preference_loss(loss, plus, s).losses.sum().item<double>() -
                                dpo::preference_loss(loss, minus, s).losses.sum().item<double>()) /
                               (2 * h);
        REQUIRE(grad[i].item<double>() == Approx(numeric).epsilon(1e-6).margin(1e-7));
      }
    }
  }
}

TEST_CASE("gradients stay finite at huge margins and saturated probabilities") {
  for (const PreferenceLoss loss :
       {PreferenceLoss::sigmoid, PreferenceLoss::robust, PreferenceLoss::exo_pair,
        PreferenceLoss::nca_pair, PreferenceLoss::bco_pair, PreferenceLoss::apo_down}) {
    INFO(dpo::preference_loss_name(loss));
    dpo::PreferenceLogps in = logps_of(kHuge);
    in.policy_chosen_logps.requires_grad_(true);
    dpo::PreferenceSettings s;
    s.beta = 1.0;
    s.label_smoothing = loss == PreferenceLoss::exo_pair ? 1e-3 : 0.0;
    dpo::preference_loss(loss, in, s).losses.sum().backward();
    REQUIRE(torch::isfinite(in.policy_chosen_logps.grad()).all().item<bool>());
  }
  // orpo with a chosen mean log-prob of exactly 0 (every token p = 1 in floating point):
  // log(1 - e^0) = -inf; the clamp keeps loss and gradient finite.
  dpo::PreferenceLogps in = logps_of({{0.0, -1.0}, {-3.0, 0.0}, {}, {}, {2, 1}, {2, 1}, {1, 1}});
  in.policy_chosen_logps.requires_grad_(true);
  in.policy_rejected_logps.requires_grad_(true);
  const torch::Tensor losses =
      dpo::preference_loss(PreferenceLoss::orpo, in, dpo::PreferenceSettings{}).losses;
  REQUIRE(torch::isfinite(losses).all().item<bool>());
  losses.sum().backward();
  REQUIRE(torch::isfinite(in.policy_chosen_logps.grad()).all().item<bool>());
  REQUIRE(torch::isfinite(in.policy_rejected_logps.grad()).all().item<bool>());
}

TEST_CASE("float32: b d = +-100 stays finite") {
  // beta 0.1, d = +-1000: sp(-100) = 3.7e-44 (a float32 denormal, ~0), sp(100) = 100.
  dpo::PreferenceLogps in = logps_of(kHuge);
  for (torch::Tensor* t : {&in.policy_chosen_logps, &in.policy_rejected_logps, &in.ref_chosen_logps,
                           &in.ref_rejected_logps})
    *t = t->to(torch::kFloat32);
  const dpo::PreferenceLossOutput out =
      dpo::preference_loss(PreferenceLoss::sigmoid, in, dpo::PreferenceSettings{});
  REQUIRE(out.losses.scalar_type() == torch::kFloat32);
  require_values(out.losses, {0.0, 100.0});
}

TEST_CASE("loss names round-trip and unknown names are user errors listing every name") {
  for (const char* name : {"sigmoid", "ipo", "hinge", "robust", "bco_pair", "sppo_hard", "nca_pair",
                           "apo_zero", "apo_down", "exo_pair", "simpo", "orpo"}) {
    REQUIRE(std::string(dpo::preference_loss_name(dpo::parse_preference_loss(name))) == name);
    REQUIRE(dpo::needs_reference(dpo::parse_preference_loss(name)) ==
            (std::string(name) != "simpo" && std::string(name) != "orpo"));
  }
  REQUIRE_THROWS_AS(dpo::parse_preference_loss("kto"), Error);
  REQUIRE_THROWS_WITH(dpo::parse_preference_loss("kto"),
                      Catch::Contains("sigmoid, ipo, hinge") && Catch::Contains("simpo, orpo"));
}

TEST_CASE("settings that do not fit the loss are one-line user errors") {
  const auto check = [](PreferenceLoss loss, auto&& edit) {
    dpo::PreferenceSettings s;
    edit(s);
    dpo::check_preference_settings(loss, s);
  };
  REQUIRE_NOTHROW(check(PreferenceLoss::exo_pair, [](auto& s) { s.label_smoothing = 1e-3; }));
  REQUIRE_THROWS_WITH(check(PreferenceLoss::exo_pair, [](auto&) {}),
                      Catch::Contains("label smoothing in (0, 1)"));
  REQUIRE_THROWS_WITH(check(PreferenceLoss::ipo, [](auto& s) { s.label_smoothing = 0.1; }),
                      Catch::Contains("not used by the ipo loss"));
  REQUIRE_THROWS_WITH(check(PreferenceLoss::robust, [](auto& s) { s.label_smoothing = 0.5; }),
                      Catch::Contains("[0, 0.5)"));
  REQUIRE_THROWS_WITH(check(PreferenceLoss::sigmoid, [](auto& s) { s.beta = 0.0; }),
                      Catch::Contains("beta must be > 0"));
  REQUIRE_THROWS_WITH(check(PreferenceLoss::orpo, [](auto& s) { s.sft_weight = 1.0; }),
                      Catch::Contains("own NLL term"));
  REQUIRE_THROWS_WITH(check(PreferenceLoss::sigmoid, [](auto& s) { s.sft_weight = -1.0; }),
                      Catch::Contains(">= 0"));
}
