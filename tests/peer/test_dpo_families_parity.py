# Peer test: every family beyond Llama trains in zili as Llama does. Per family of
# common.FAMILIES (a tiny random model saved by transformers, drawn wide, windows shorter than
# the texts): the DPO checks of test_dpo_trainer_parity.py (per-pair policy log-probs, then
# loss, rewards, logps, grad_norm and logits of the first `zili dpo` step against TRL 1.16's
# DPOTrainer on the same transformers model and PEFT adapter, to 1e-4); then a short
# `zili sft` run (2 steps, LoRA on all linear layers) whose adapter loads in PEFT and gives
# zili's per-token log-probs to 1e-4.
#   python test_dpo_families_parity.py --zili build/zili --work SCRATCH_DIR
# Exit 0: all agree; 1: a mismatch; 77: TRL (or PEFT) is missing (skip).
import sys

from common import FAMILIES, make_random_family, make_tokenizer_dir, parse_args, read_jsonl, run

try:
    import torch
    from peft import PeftModel
    from test_dpo_trainer_parity import (PAIRS, compare_logps, load_base, make_adapter,
                                         quiet_single_thread, trl_trainer, write_jsonl)
except ImportError as e:  # the venv lacks the reference: skip, do not fail
    print(f"skip: {e}")
    sys.exit(77)

TOLERANCE = 1e-4


def sft_adapter_in_peft(zili, work, base_dir, family):
    """A 2-step `zili sft` run; its adapter in PEFT gives zili's per-token log-probs."""
    data = write_jsonl(work / "sft.jsonl",
                       [{"prompt": p["prompt"], "completion": p["chosen"]} for p in PAIRS])
    run_dir = work / "sft-run"
    run([zili, "sft", "--model", base_dir, "--data", data, "--out", run_dir, "--max-steps", 2,
         "--batch-size", 2, "--lr", "1e-2", "--lora-targets", "all-linear", "--lora-dropout", 0,
         "--threads", 1])
    adapter = run_dir / "adapter"
    out = work / "sft-eval.jsonl"
    run([zili, "eval", "--model", base_dir, "--adapter", adapter, "--data", data, "--per-token",
         "--out", out, "--threads", 1])
    model = PeftModel.from_pretrained(load_base(base_dir), adapter).eval()
    worst = 0.0
    for record in read_jsonl(out):
        ids = torch.tensor([record["ids"]])
        with torch.no_grad():
            logits = model(ids).logits.float()[0, :-1]
        theirs = torch.log_softmax(logits, -1).gather(-1, ids[0, 1:, None])[:, 0]
        ours = torch.tensor(record["token_logprobs"])  # the completion's tokens only
        worst = max(worst, (ours - theirs[len(theirs) - len(ours):]).abs().max().item())
    ok = worst <= TOLERANCE
    print(f"{family + ' sft adapter -> PEFT':44s} max |zili - peft| = {worst:.2e}  "
          f"{'ok' if ok else 'MISMATCH'}")
    return ok


def main():
    zili, work = parse_args()
    quiet_single_thread()
    tokenizer_dir = make_tokenizer_dir(zili, work)
    ok = True
    for family in FAMILIES:
        print(f"--- {family}")
        family_work = work / family
        family_work.mkdir()
        base_dir = make_random_family(zili, family_work, family, tokenizer_dir, name="base")
        adapter_dir = make_adapter(base_dir, family_work)
        # Three pairs (chosen longer and shorter than rejected) keep the run short.
        data = write_jsonl(family_work / "pairs.jsonl", PAIRS[:3])
        # The tokenizer through the Llama folder it was copied from: transformers 5 reads a
        # tokenizer.model another way for some model types (Mistral, Qwen2, Phi-3 get other
        # pre-tokenization), so TRL would train on other ids than zili (and the families' own
        # tokenizer.json files are another issue's).
        trainer = trl_trainer(family_work, base_dir, adapter_dir, PAIRS[:3], tokenizer_dir)
        ok &= compare_logps(zili, family_work, base_dir, adapter_dir, data, trainer)
        ok &= sft_adapter_in_peft(zili, family_work, base_dir, family)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
