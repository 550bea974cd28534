// The preference losses of `zili dpo`: DPO and its variants as TRL 1.16 defines them
// (DPOTrainer, CPOTrainer for SimPO, ORPOTrainer for ORPO), per pair, from the summed
// completion log-probs of the policy and the reference. Formulas and sources: the .cpp.
#pragma once

#include <string>

#include <torch/torch.h>

namespace zili::dpo {

// P: preference pairs in the batch. d below: the DPO margin
// (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected).
enum class PreferenceLoss {
  sigmoid,    // DPO (with cDPO label smoothing)
  ipo,        // IPO, per-token log-ratios
  hinge,      // SLiC
  robust,     // robust DPO (rDPO), label smoothing = flip rate
  bco_pair,   // BCO on pairs, stateless as in TRL 1.16 (no running reward mean)
  sppo_hard,  // SPPO with hard 0/1 preference probabilities
  nca_pair,   // NCA on pairs
  apo_zero,   // APO-zero
  apo_down,   // APO-down
  exo_pair,   // EXO-pref, label smoothing = epsilon > 0
  simpo,      // SimPO (reference-free, per-token policy log-probs)
  orpo,       // ORPO (reference-free, NLL + odds ratio)
};

// "sigmoid", "ipo", ...: the names above, as TRL's loss_type spells them; zili::Error naming
// every choice otherwise.
PreferenceLoss parse_preference_loss(const std::string& name);
const char* preference_loss_name(PreferenceLoss loss);
// "sigmoid, ipo, ..., orpo": every name, for help texts and errors.
std::string preference_loss_names();

// False for the reference-free losses (simpo, orpo): no reference forward is needed.
bool needs_reference(PreferenceLoss loss);

struct PreferenceSettings {
  double beta = 0.1;  // DPOConfig.beta / CPOConfig.beta; not used by orpo (see orpo_lambda)
  // cDPO epsilon for sigmoid and simpo, label flip rate for robust (both in [0, 0.5)), EXO's
  // epsilon for exo_pair (in (0, 1)); must be 0 for the other losses.
  double label_smoothing = 0.0;
  double simpo_gamma = 0.5;  // SimPO target reward margin (CPOConfig.simpo_gamma)
  // ORPO's lambda, the weight of the odds-ratio term: TRL calls it ORPOConfig.beta (default
  // 0.1). A name of its own here, since `beta` means the KL strength everywhere else.
  double orpo_lambda = 0.1;
  // Weight w of an extra w * chosen_nll per pair: RPO (TRL <= 0.x rpo_alpha, TRL 1.16
  // loss_type ["sigmoid", "sft"] with loss_weights [1, w]) for the DPO family, CPOConfig.cpo_alpha
  // for simpo (CPO-SimPO). Must be 0 for orpo, whose NLL term is part of the loss.
  double sft_weight = 0.0;
};

// zili::Error (one line) when settings do not fit the loss: beta <= 0, label smoothing outside
// the loss's range or given to a loss that ignores it, sft_weight < 0 or set for orpo.
void check_preference_settings(PreferenceLoss loss, const PreferenceSettings& settings);

// True when the loss reads PreferenceLogps::chosen_nll (orpo, or sft_weight > 0).
bool needs_chosen_nll(PreferenceLoss loss, const PreferenceSettings& settings);

// One batch of pairs; every tensor [P], one floating dtype (fp32 or f64), one device.
struct PreferenceLogps {
  torch::Tensor policy_chosen_logps;    // [P] sum of log p over the chosen completion tokens
  torch::Tensor policy_rejected_logps;  // [P] same, rejected
  torch::Tensor ref_chosen_logps;       // [P] reference model; undefined for simpo, orpo
  torch::Tensor ref_rejected_logps;     // [P]
  // Completion token counts (clamped at 1, as TRL), for the per-token means of ipo, simpo and
  // orpo; may be left undefined for the other losses.
  torch::Tensor chosen_tokens;    // [P]
  torch::Tensor rejected_tokens;  // [P]
  // Mean NLL per chosen completion token, -policy_chosen_logps / chosen_tokens, with
  // autograd; only read when needs_chosen_nll(). TRL takes one token mean over all chosen
  // tokens of the batch instead (CrossEntropyLoss over the batch); pass that value broadcast
  // to [P] to get TRL's batch loss exactly.
  torch::Tensor chosen_nll;  // [P]
};

struct PreferenceLossOutput {
  torch::Tensor losses;  // [P] per pair, with autograd; the batch loss is losses.mean()
  // Detached, for rewards/accuracies (chosen > rejected) and rewards/margins: beta times the
  // log-ratio (policy - reference) for the DPO family; what TRL logs for the reference-free
  // ones: beta * mean token log-prob for simpo, orpo_lambda * mean token log-prob for orpo.
  torch::Tensor chosen_rewards;    // [P]
  torch::Tensor rejected_rewards;  // [P]
};

// The per-pair losses and rewards. Settings are assumed checked (check_preference_settings);
// missing inputs the loss needs are internal errors (TORCH_CHECK).
PreferenceLossOutput preference_loss(PreferenceLoss loss, const PreferenceLogps& logps,
                                     const PreferenceSettings& settings);

}  // namespace zili::dpo
