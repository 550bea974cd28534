# Peer test: `zili dpo-loss` against TRL's own loss code, on the same log-probs (random ones and
# margins of +-1000 and more), in float64: every loss zili and TRL both implement, with its
# per-pair loss, chosen reward and rejected reward equal to 1e-6 (relative above 1).
#   python test_dpo_loss_parity.py --zili build/zili --work SCRATCH_DIR
#
# How TRL 1.16 is called without a model:
# - DPO family: DPOTrainer._compute_loss as an unbound function on a SimpleNamespace holding the
#   attributes it reads, with precomputed reference log-probs and a stand-in model whose
#   per-token log-probs sum to the given policy log-probs. It returns the batch mean and logs
#   the rewards as means, so it runs one pair at a time (P = 1).
#   "sigmoid" with label smoothing: TRL 1.16's sigmoid ignores label_smoothing; its "aot" on a
#   single pair is the cDPO formula zili implements (TRL <= 0.x's smoothed sigmoid).
#   sft_weight (RPO): TRL's loss_type ["sigmoid", "sft"] with loss_weights [1, w].
# - simpo: CPOTrainer.cpo_loss; the CPO-SimPO NLL term added as get_batch_loss_metrics does.
# - orpo: ORPOTrainer.odds_ratio_loss, with the loss as get_batch_loss_metrics composes it
#   (nll - losses). odds_ratio_loss casts to float32; the inputs here keep float64 through that
#   cast so the formula, not float32 rounding, is compared.
# The chosen NLL zili is given is -policy_chosen / chosen_tokens: what TRL's token-mean
# cross-entropy over the chosen completion is for one pair.
# Exit 0: all agree; 1: a mismatch; 77: TRL is missing (skip).
import json
import math
import random
import sys
from collections import defaultdict
from types import SimpleNamespace

from common import parse_args, read_jsonl, run

try:
    import torch
    from trl.experimental.cpo.cpo_trainer import CPOTrainer
    from trl.experimental.orpo.orpo_trainer import ORPOTrainer
    from trl.trainer.dpo_trainer import DPOTrainer
except ImportError as e:  # the venv lacks the reference: skip, do not fail
    print(f"skip: {e}")
    sys.exit(77)

TOLERANCE = 1e-6
F64 = torch.float64
# EXO's epsilon: TRL makes it a float32 tensor, so it is exactly representable here (2^-10).
EXO_EPSILON = 2.0**-10


def make_pairs(rng):
    """Random pairs, then large margins d = +-1000 and +-5000 and one with c = r = 0."""
    pairs = []
    for _ in range(12):
        pairs.append(dict(policy_chosen=-rng.uniform(1, 200), policy_rejected=-rng.uniform(1, 200),
                          ref_chosen=-rng.uniform(1, 200), ref_rejected=-rng.uniform(1, 200),
                          chosen_tokens=rng.randint(1, 64), rejected_tokens=rng.randint(1, 64)))
    for d in (1000.0, -1000.0, 5000.0, -5000.0, 0.0):
        pairs.append(dict(policy_chosen=-6000.0 + d / 2, policy_rejected=-6000.0 - d / 2,
                          ref_chosen=-6000.0, ref_rejected=-6000.0, chosen_tokens=7,
                          rejected_tokens=9))
    # Reference-free losses need policy log-probs < 0: large margins of mean log-probs.
    for chosen, rejected, n in ((-1e-3, -500.0, 3), (-500.0, -1e-3, 3), (-0.05, -2000.0, 1)):
        pairs.append(dict(policy_chosen=chosen * n, policy_rejected=rejected * n, ref_chosen=-1.0,
                          ref_rejected=-1.0, chosen_tokens=n, rejected_tokens=n))
    for p in pairs:
        p["chosen_nll"] = -p["policy_chosen"] / p["chosen_tokens"]
    return pairs


# --- TRL --------------------------------------------------------------------------------------

class _Accelerator:
    device = torch.device("cpu")

    def gather_for_metrics(self, x):
        return x

    def gather(self, x):
        return x


def _stand_in_model(pair):
    """A model whose per-token log-probs over the completion sum to the policy log-probs: the
    whole sum on the first completion position, zeros elsewhere (the fused LM head gives 0 on
    masked labels)."""
    n_c, n_r = pair["chosen_tokens"], pair["rejected_tokens"]
    seq = 1 + max(n_c, n_r)
    completion_mask = torch.zeros(2, seq, dtype=torch.long)
    completion_mask[0, 1:1 + n_c] = 1
    completion_mask[1, 1:1 + n_r] = 1
    log_probs = torch.zeros(2, seq - 1, dtype=F64)
    log_probs[0, 0] = pair["policy_chosen"]
    log_probs[1, 0] = pair["policy_rejected"]

    def model(**kwargs):
        return SimpleNamespace(log_probs=log_probs, entropy=torch.zeros(2, seq - 1, dtype=F64),
                               mean_logits=torch.zeros(2, seq - 1, dtype=F64),
                               is_top1=torch.zeros(2, seq - 1, dtype=torch.bool))

    inputs = {"input_ids": torch.zeros(2, seq, dtype=torch.long),
              "attention_mask": torch.ones(2, seq, dtype=torch.long),
              "completion_mask": completion_mask,
              "ref_chosen_logps": torch.tensor([pair["ref_chosen"]], dtype=F64),
              "ref_rejected_logps": torch.tensor([pair["ref_rejected"]], dtype=F64)}
    return model, inputs


def trl_dpo(pair, loss_types, loss_weights, beta, label_smoothing):
    """(loss, chosen reward, rejected reward) of one pair from DPOTrainer._compute_loss."""
    trainer = SimpleNamespace(
        model=SimpleNamespace(training=True), accelerator=_Accelerator(), aux_loss_enabled=False,
        precompute_ref_logps=True, ld_alpha=None, f_divergence_type="reverse_kl",
        f_alpha_divergence_coef=0.5, loss_types=loss_types, loss_weights=loss_weights, beta=beta,
        label_smoothing=label_smoothing, use_weighting=False,
        args=SimpleNamespace(discopop_tau=0.05),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        _total_train_tokens=0, _tp_size=1)
    model, inputs = _stand_in_model(pair)
    with torch.no_grad():
        loss = DPOTrainer._compute_loss(trainer, model, inputs, return_outputs=False)
    metrics = trainer._metrics["train"]
    return loss.item(), metrics["rewards/chosen"][-1], metrics["rewards/rejected"][-1]


def mean_logps(pairs):
    chosen = torch.tensor([p["policy_chosen"] / p["chosen_tokens"] for p in pairs], dtype=F64)
    rejected = torch.tensor([p["policy_rejected"] / p["rejected_tokens"] for p in pairs], dtype=F64)
    nll = torch.tensor([p["chosen_nll"] for p in pairs], dtype=F64)
    return chosen, rejected, nll


def trl_simpo(pairs, beta, gamma, label_smoothing, cpo_alpha):
    trainer = SimpleNamespace(alpha=0.0, accelerator=_Accelerator(), loss_type="simpo", beta=beta,
                              simpo_gamma=gamma, label_smoothing=label_smoothing)
    chosen, rejected, nll = mean_logps(pairs)  # CPO averages log-probs for simpo
    losses, chosen_rewards, rejected_rewards = CPOTrainer.cpo_loss(trainer, chosen, rejected)
    losses = losses + cpo_alpha * nll  # get_batch_loss_metrics: losses.mean() + cpo_alpha * nll
    return list(zip(losses.tolist(), chosen_rewards.tolist(), rejected_rewards.tolist()))


class _KeepFloat64(torch.Tensor):
    """odds_ratio_loss calls .float(); keep float64 to compare the formula itself."""

    def float(self):
        return self.as_subclass(torch.Tensor)


def trl_orpo(pairs, lam):
    trainer = SimpleNamespace(beta=lam, accelerator=_Accelerator())
    chosen, rejected, nll = mean_logps(pairs)  # ORPO averages log-probs
    losses, chosen_rewards, rejected_rewards, _, _ = ORPOTrainer.odds_ratio_loss(
        trainer, chosen.as_subclass(_KeepFloat64), rejected.as_subclass(_KeepFloat64))
    losses = nll - losses  # get_batch_loss_metrics: policy_nll_loss - losses.mean()
    return list(zip(losses.tolist(), chosen_rewards.tolist(), rejected_rewards.tolist()))


# --- zili -------------------------------------------------------------------------------------

def zili_loss(zili, work, pairs, label, flags):
    data = work / "pairs.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    result = run([zili, "dpo-loss", "--in", data, *flags])
    (work / f"{label}.jsonl").write_text(result.stdout)
    return [(r["loss"], r["chosen_reward"], r["rejected_reward"])
            for r in read_jsonl(work / f"{label}.jsonl")]


def compare(label, ours, theirs):
    worst = 0.0
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    for mine, ref in zip(ours, theirs):
        for a, b in zip(mine, ref):
            if not (math.isfinite(a) and math.isfinite(b)):
                worst = math.inf
                continue
            worst = max(worst, abs(a - b) / max(1.0, abs(b)))
    ok = worst <= TOLERANCE
    largest = max(abs(t[0]) for t in theirs)
    print(f"{label:34s} max rel. diff {worst:.1e} over {len(ours)} pairs (|loss| up to "
          f"{largest:.3g})  {'ok' if ok else 'MISMATCH'}")
    if not ok:
        for i, (mine, ref) in enumerate(zip(ours, theirs)):
            print(f"  pair {i}: zili {mine} trl {ref}")
    return ok


def main():
    zili, work = parse_args()
    rng = random.Random(7)
    pairs = make_pairs(rng)
    ok = True

    # (zili loss, TRL loss_types, TRL weights, label smoothing, sft weight)
    dpo_cases = [
        ("sigmoid", ["sigmoid"], [1.0], 0.0, 0.0),
        ("sigmoid", ["aot"], [1.0], 0.1, 0.0),
        ("sigmoid", ["sigmoid", "sft"], [1.0, 0.5], 0.0, 0.5),
        ("ipo", ["ipo"], [1.0], 0.0, 0.0),
        ("hinge", ["hinge"], [1.0], 0.0, 0.0),
        ("robust", ["robust"], [1.0], 0.2, 0.0),
        ("bco_pair", ["bco_pair"], [1.0], 0.0, 0.0),
        ("sppo_hard", ["sppo_hard"], [1.0], 0.0, 0.0),
        ("nca_pair", ["nca_pair"], [1.0], 0.0, 0.0),
        ("apo_zero", ["apo_zero"], [1.0], 0.0, 0.0),
        ("apo_down", ["apo_down"], [1.0], 0.0, 0.0),
        ("exo_pair", ["exo_pair"], [1.0], EXO_EPSILON, 0.0),
        ("ipo", ["ipo", "sft"], [1.0, 2.0], 0.0, 2.0),
    ]
    for loss, loss_types, weights, smoothing, sft_weight in dpo_cases:
        for beta in (0.1, 1.0):
            flags = ["--loss", loss, "--beta", beta, "--label-smoothing", repr(smoothing),
                     "--sft-weight", sft_weight]
            label = f"{loss} b={beta} e={smoothing:g} w={sft_weight:g}"
            ours = zili_loss(zili, work, pairs, label.replace(" ", "_"), flags)
            theirs = [trl_dpo(p, loss_types, weights, beta, smoothing) for p in pairs]
            ok &= compare(f"{label} ({'+'.join(loss_types)})", ours, theirs)

    free = [{k: v for k, v in p.items() if not k.startswith("ref_")} for p in pairs]
    for beta, gamma, smoothing, cpo_alpha in ((2.0, 0.5, 0.0, 0.0), (0.1, 0.5, 0.1, 1.0),
                                              (2.5, 1.4, 0.0, 1.0)):
        flags = ["--loss", "simpo", "--beta", beta, "--simpo-gamma", gamma, "--label-smoothing",
                 smoothing, "--sft-weight", cpo_alpha]
        label = f"simpo b={beta} g={gamma} e={smoothing:g} w={cpo_alpha:g}"
        ours = zili_loss(zili, work, free, label.replace(" ", "_"), flags)
        ok &= compare(label + " (CPO)", ours, trl_simpo(pairs, beta, gamma, smoothing, cpo_alpha))

    for lam in (0.1, 0.5):
        label = f"orpo lambda={lam}"
        ours = zili_loss(zili, work, free, label.replace(" ", "_"), ["--loss", "orpo",
                                                                      "--orpo-lambda", lam])
        ok &= compare(label + " (ORPO)", ours, trl_orpo(pairs, lam))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
