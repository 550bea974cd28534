// The preference losses, after TRL 1.16: trl/trainer/dpo_trainer.py DPOTrainer._compute_loss
// (its loss_type branches), trl/experimental/cpo/cpo_trainer.py CPOTrainer.cpo_loss (simpo)
// and trl/experimental/orpo/orpo_trainer.py ORPOTrainer.odds_ratio_loss (orpo).
//
// Notation, all [P]: pc, pr policy log-probs of chosen / rejected (sums over completion
// tokens), rc, rr reference ones, nc, nr completion token counts, b = beta, e = label
// smoothing, s = sigma (logistic), log s(x) = torch::log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|)),
// exact and finite at any margin (b d = +-100 and beyond), never log(sigmoid(x)).
//   c = pc - rc (chosen log-ratio), r = pr - rr (rejected log-ratio), d = c - r.
#include "dpo/preference_loss.h"

#include <array>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "util/error.h"

namespace zili::dpo {
namespace {

constexpr std::array<std::pair<const char*, PreferenceLoss>, 12> kNames = {{
    {"sigmoid", PreferenceLoss::sigmoid},
    {"ipo", PreferenceLoss::ipo},
    {"hinge", PreferenceLoss::hinge},
    {"robust", PreferenceLoss::robust},
    {"bco_pair", PreferenceLoss::bco_pair},
    {"sppo_hard", PreferenceLoss::sppo_hard},
    {"nca_pair", PreferenceLoss::nca_pair},
    {"apo_zero", PreferenceLoss::apo_zero},
    {"apo_down", PreferenceLoss::apo_down},
    {"exo_pair", PreferenceLoss::exo_pair},
    {"simpo", PreferenceLoss::simpo},
    {"orpo", PreferenceLoss::orpo},
}};

bool uses_label_smoothing(PreferenceLoss loss) {
  return loss == PreferenceLoss::sigmoid || loss == PreferenceLoss::robust ||
         loss == PreferenceLoss::exo_pair || loss == PreferenceLoss::simpo;
}

bool uses_token_counts(PreferenceLoss loss) {
  return loss == PreferenceLoss::ipo || loss == PreferenceLoss::simpo ||
         loss == PreferenceLoss::orpo;
}

// log-probs / token count: the per-token mean of ipo, simpo and orpo. TRL divides by the
// completion mask's sum, clamped at 1 for ipo.
torch::Tensor per_token(const torch::Tensor& logps, const torch::Tensor& tokens) {
  return logps / tokens.to(logps.dtype()).clamp_min(1.0);
}

// -(1 - e) log s(x) - e log s(-x): the logistic loss with cDPO label smoothing (Mitchell 2023,
// "A note on DPO with noisy preferences"); e = 0 is plain -log s(x).
torch::Tensor smoothed_logistic(const torch::Tensor& x, double e) {
  torch::Tensor loss = -torch::log_sigmoid(x);
  if (e != 0.0) loss = (1.0 - e) * loss - e * torch::log_sigmoid(-x);
  return loss;
}

// log(1 - exp(x)) for x < 0 without cancellation (Maechler 2012, as TRL's
// orpo_trainer.log1mexp): log(-expm1(x)) above -ln 2, log1p(-exp(x)) below. Each branch gets
// an input clamped to its own side, so the branch torch::where drops is finite and its
// gradient (0 times a finite number) cannot turn into NaN.
torch::Tensor log1mexp(const torch::Tensor& x) {
  const double ln2 = std::log(2.0);
  const torch::Tensor near_zero = torch::log(-torch::expm1(x.clamp_min(-ln2)));
  const torch::Tensor far = torch::log1p(-torch::exp(x.clamp_max(-ln2)));
  return torch::where(x > -ln2, near_zero, far);
}

// The DPO family from the log-ratios c, r [P] (formulas: DPOTrainer._compute_loss, TRL 1.16).
torch::Tensor referenced_loss(PreferenceLoss loss, const torch::Tensor& c, const torch::Tensor& r,
                              const PreferenceLogps& in, const PreferenceSettings& s) {
  const double b = s.beta, e = s.label_smoothing;
  const torch::Tensor d = c - r;  // [P]
  switch (loss) {
    case PreferenceLoss::sigmoid:
      // DPO (Rafailov et al. 2023, Eq. 7) with cDPO smoothing:
      //   -(1 - e) log s(b d) - e log s(-b d).
      // TRL 1.16 dropped e from "sigmoid" (e = 0 agrees); e > 0 is TRL <= 0.x's sigmoid branch
      // of dpo_loss, and TRL 1.16's "aot" on a single pair.
      return smoothed_logistic(b * d, e);
    case PreferenceLoss::ipo:
      // IPO (Azar et al. 2023, Eq. 17), b = tau, on per-token log-ratios as TRL (length
      // normalised, confirmed with the IPO authors): (c / nc - r / nr - 1 / (2 b))^2.
      return (per_token(c, in.chosen_tokens) - per_token(r, in.rejected_tokens) - 1.0 / (2.0 * b))
          .square();
    case PreferenceLoss::hinge:
      // SLiC (Zhao et al. 2023): max(0, 1 - b d).
      return torch::relu(1.0 - b * d);
    case PreferenceLoss::robust:
      // rDPO (Chowdhury et al. 2024, Eq. 7), e = flip rate in [0, 0.5):
      //   (-(1 - e) log s(b d) + e log s(-b d)) / (1 - 2 e).
      return (-(1.0 - e) * torch::log_sigmoid(b * d) + e * torch::log_sigmoid(-b * d)) /
             (1.0 - 2.0 * e);
    case PreferenceLoss::bco_pair:
      // BCO on pairs (Jung et al. 2024): -log s(b c) - log s(-b r). TRL <= 0.x subtracted a
      // running mean delta of the batch rewards inside both sigmas (RunningMoments); TRL 1.16
      // dropped it, and so do we: the loss is stateless.
      return -torch::log_sigmoid(b * c) - torch::log_sigmoid(-b * r);
    case PreferenceLoss::sppo_hard:
      // SPPO (Wu et al. 2024, Eq. 4.7) with P(chosen wins) = 1, P(rejected wins) = 0:
      //   (c - 1 / (2 b))^2 + (r + 1 / (2 b))^2.
      return (c - 0.5 / b).square() + (r + 0.5 / b).square();
    case PreferenceLoss::nca_pair:
      // NCA on pairs (Chen et al. 2024): -log s(b c) - 1/2 log s(-b c) - 1/2 log s(-b r).
      return -torch::log_sigmoid(b * c) - 0.5 * torch::log_sigmoid(-b * c) -
             0.5 * torch::log_sigmoid(-b * r);
    case PreferenceLoss::apo_zero:
      // APO-zero (D'Oosterlinck et al. 2024, Eq. 7): 1 - s(b c) + s(b r), written
      // s(-b c) + s(b r) (1 - s(x) would round to 0 where s(-x) is still exact).
      return torch::sigmoid(-b * c) + torch::sigmoid(b * r);
    case PreferenceLoss::apo_down:
      // APO-down (Eq. 8): s(b c) + 1 - s(b d) = s(b c) + s(-b d).
      return torch::sigmoid(b * c) + torch::sigmoid(-b * d);
    case PreferenceLoss::exo_pair: {
      // EXO-pref (Ji et al. 2024, Eq. 16): KL(q || p) for q = (s(b d), s(-b d)), the
      // policy's preference distribution, and p = (1 - e, e), e in (0, 1):
      //   s(b d) (log s(b d) - log(1 - e)) + s(-b d) (log s(-b d) - log e).
      const torch::Tensor x = b * d;
      return torch::sigmoid(x) * (torch::log_sigmoid(x) - std::log1p(-e)) +
             torch::sigmoid(-x) * (torch::log_sigmoid(-x) - std::log(e));
    }
    case PreferenceLoss::simpo:
    case PreferenceLoss::orpo:
      break;
  }
  TORCH_CHECK(false, "referenced_loss: ", preference_loss_name(loss), " is reference-free");
}

// The largest mean token log-prob orpo feeds to log1mexp: the smallest normal number of the
// dtype below 0. At exactly 0 (every token p = 1 in floating point) log(1 - p) = -inf and the
// backward is 0 * inf = NaN; TRL does not clamp, and any value below this one passes as is
// (an impossible log-prob > 0, NaN in TRL, is clamped too).
torch::Tensor clamp_below_zero(const torch::Tensor& a) {
  const double tiny = a.scalar_type() == torch::kFloat64 ? std::numeric_limits<double>::min()
                                                         : std::numeric_limits<float>::min();
  return a.clamp_max(-tiny);
}

void check_pair_tensor(const torch::Tensor& t, const char* name, const torch::Tensor& like) {
  TORCH_CHECK(t.defined(), "preference_loss: ", name, " is needed and undefined");
  TORCH_CHECK(t.dim() == 1 && t.size(0) == like.size(0), "preference_loss: ", name,
              " must be [P] with P = ", like.size(0), ", got ", t.sizes());
  TORCH_CHECK(t.device() == like.device(), "preference_loss: ", name, " on ", t.device(),
              ", policy_chosen_logps on ", like.device());
}

void check_inputs(PreferenceLoss loss, const PreferenceLogps& in, const PreferenceSettings& s) {
  const torch::Tensor& pc = in.policy_chosen_logps;
  TORCH_CHECK(pc.defined() && pc.dim() == 1 &&
                  (pc.scalar_type() == torch::kFloat32 || pc.scalar_type() == torch::kFloat64),
              "preference_loss: policy_chosen_logps must be a float32 or float64 [P] tensor");
  std::vector<std::pair<const torch::Tensor*, const char*>> needed = {
      {&in.policy_rejected_logps, "policy_rejected_logps"}};
  if (needs_reference(loss)) {
    needed.push_back({&in.ref_chosen_logps, "ref_chosen_logps"});
    needed.push_back({&in.ref_rejected_logps, "ref_rejected_logps"});
  }
  if (uses_token_counts(loss)) {
    needed.push_back({&in.chosen_tokens, "chosen_tokens"});
    needed.push_back({&in.rejected_tokens, "rejected_tokens"});
  }
  if (needs_chosen_nll(loss, s)) needed.push_back({&in.chosen_nll, "chosen_nll"});
  for (const auto& [tensor, name] : needed) {
    check_pair_tensor(*tensor, name, pc);
    const bool is_count = tensor == &in.chosen_tokens || tensor == &in.rejected_tokens;
    TORCH_CHECK(is_count || tensor->scalar_type() == pc.scalar_type(), "preference_loss: ", name,
                " is ", tensor->scalar_type(), ", policy_chosen_logps ", pc.scalar_type());
  }
}

}  // namespace

PreferenceLoss parse_preference_loss(const std::string& name) {
  for (const auto& [known, loss] : kNames)
    if (name == known) return loss;
  fail("unknown preference loss \"{}\" (expected one of {})", name, preference_loss_names());
}

const char* preference_loss_name(PreferenceLoss loss) {
  for (const auto& [name, known] : kNames)
    if (loss == known) return name;
  return "?";
}

std::string preference_loss_names() {
  std::string names;
  for (const auto& [name, loss] : kNames) names += (names.empty() ? "" : ", ") + std::string(name);
  return names;
}

bool needs_reference(PreferenceLoss loss) {
  return loss != PreferenceLoss::simpo && loss != PreferenceLoss::orpo;
}

bool needs_chosen_nll(PreferenceLoss loss, const PreferenceSettings& settings) {
  return loss == PreferenceLoss::orpo || settings.sft_weight != 0.0;
}

void check_preference_settings(PreferenceLoss loss, const PreferenceSettings& s) {
  const char* name = preference_loss_name(loss);
  if (loss != PreferenceLoss::orpo && !(s.beta > 0.0))
    fail("--beta must be > 0 for the {} loss (got {})", name, s.beta);
  if (loss == PreferenceLoss::orpo && !(s.orpo_lambda >= 0.0))
    fail("the orpo lambda must be >= 0 (got {})", s.orpo_lambda);
  const double e = s.label_smoothing;
  if (!uses_label_smoothing(loss) && e != 0.0)
    fail(
        "label smoothing is not used by the {} loss (got {}; only sigmoid, robust, exo_pair "
        "and simpo take it)",
        name, e);
  if (loss == PreferenceLoss::exo_pair && !(e > 0.0 && e < 1.0))
    fail("the exo_pair loss needs label smoothing in (0, 1), got {} (the EXO paper uses 1e-3)", e);
  if (uses_label_smoothing(loss) && loss != PreferenceLoss::exo_pair && !(e >= 0.0 && e < 0.5))
    fail("label smoothing for the {} loss must be in [0, 0.5), got {}", name, e);
  if (!(s.sft_weight >= 0.0)) fail("the SFT (NLL) weight must be >= 0 (got {})", s.sft_weight);
  if (loss == PreferenceLoss::orpo && s.sft_weight != 0.0)
    fail("the orpo loss has its own NLL term: leave the SFT weight at 0 (got {})", s.sft_weight);
}

PreferenceLossOutput preference_loss(PreferenceLoss loss, const PreferenceLogps& in,
                                     const PreferenceSettings& s) {
  check_inputs(loss, in, s);
  PreferenceLossOutput out;
  if (loss == PreferenceLoss::simpo) {
    // SimPO (Meng et al. 2024, Eq. 6) as CPOTrainer.cpo_loss with label smoothing e:
    //   m = pc / nc - pr / nr - gamma / b,  loss = -(1 - e) log s(b m) - e log s(-b m);
    // rewards as TRL logs them: b * pc / nc, b * pr / nr.
    const torch::Tensor chosen = per_token(in.policy_chosen_logps, in.chosen_tokens);  // [P]
    const torch::Tensor rejected = per_token(in.policy_rejected_logps, in.rejected_tokens);
    const torch::Tensor m = chosen - rejected - s.simpo_gamma / s.beta;
    out.losses = smoothed_logistic(s.beta * m, s.label_smoothing);
    out.chosen_rewards = s.beta * chosen.detach();
    out.rejected_rewards = s.beta * rejected.detach();
  } else if (loss == PreferenceLoss::orpo) {
    // ORPO (Hong et al. 2024, Eqs. 4-7) as ORPOTrainer: on mean token log-probs
    // ac = pc / nc, ar = pr / nr, log odds(y) = a - log(1 - exp(a)), and
    //   loss = chosen_nll - lambda log s(log odds(chosen) - log odds(rejected)),
    // TRL's `policy_nll_loss - (beta * logsigmoid(log_odds)).mean()`; rewards lambda * a.
    const torch::Tensor chosen = per_token(in.policy_chosen_logps, in.chosen_tokens);  // [P]
    const torch::Tensor rejected = per_token(in.policy_rejected_logps, in.rejected_tokens);
    const torch::Tensor ac = clamp_below_zero(chosen);
    const torch::Tensor ar = clamp_below_zero(rejected);
    const torch::Tensor log_odds = (ac - ar) - (log1mexp(ac) - log1mexp(ar));  // [P]
    out.losses = in.chosen_nll - s.orpo_lambda * torch::log_sigmoid(log_odds);
    out.chosen_rewards = s.orpo_lambda * chosen.detach();
    out.rejected_rewards = s.orpo_lambda * rejected.detach();
  } else {
    const torch::Tensor c = in.policy_chosen_logps - in.ref_chosen_logps;      // [P]
    const torch::Tensor r = in.policy_rejected_logps - in.ref_rejected_logps;  // [P]
    out.losses = referenced_loss(loss, c, r, in, s);
    // TRL: chosen_rewards = beta * chosen_logratios.detach(), for every loss_type.
    out.chosen_rewards = s.beta * c.detach();
    out.rejected_rewards = s.beta * r.detach();
  }
  // RPO (Pang et al. 2024) / CPO's BC term: + w * NLL of the chosen completion.
  if (s.sft_weight != 0.0) out.losses = out.losses + s.sft_weight * in.chosen_nll;
  return out;
}

}  // namespace zili::dpo
