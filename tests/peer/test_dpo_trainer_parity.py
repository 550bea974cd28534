# Peer test: the first step of `zili dpo` against TRL 1.16's DPOTrainer itself, on a tiny
# random Llama (transformers, fp32), a PEFT LoRA adapter with non-zero B on every linear layer
# (dropout 0) and a few string pairs {"prompt", "chosen", "rejected"} whose chosen and
# rejected completions differ in length. Conversational pairs (a tokenizer with a chat_template):
# test_chat_template_parity.py, with the helpers here.
#   python test_dpo_trainer_parity.py --zili build/zili --work SCRATCH_DIR
#
# Compared, to 1e-4 (1e-4 relative for the gradient norm):
# - Token ids: TRL's prompt_ids + chosen_ids / rejected_ids (its own _prepare_dataset, run by
#   the trainer) equal zili's sequences and completion boundaries, read from `zili eval
#   --per-token` on the same pairs as prompt/completion lines (tokenized as dpo tokenizes them).
# - Per pair: the policy (base + adapter) log-probs of the chosen and the rejected completion,
#   `zili eval --adapter` on the pair file against TRL's compute_loss on a batch of that one
#   pair (its logps/chosen, logps/rejected metrics).
# - The first step: `zili dpo --init-adapter ADAPTER --batch-size N --max-steps 1` against
#   DPOTrainer(PeftModel.from_pretrained(base, adapter)).train() for one step with all N pairs
#   in the batch: loss (log 2), rewards/* (0), logps/chosen, logps/rejected and grad_norm.
#   Both take the adapter as the reference too (TRL copies it into a frozen "ref" adapter).
# - logits/chosen, logits/rejected: zili logs the mean over pairs of each completion's mean
#   logit, TRL the mean over all completion tokens of the batch (dpo_trainer.py:1554-1568).
#   Each is checked against TRL's per-pair values: zili's to their plain mean, TRL's batch
#   value to their token-weighted mean.
# How TRL is set up: DPOConfig(bf16=False), since its default bf16=True autocasts the forward
# to bf16 even on CPU (~1e-3 relative off fp32); otherwise TRL's defaults (beta 0.1, sigmoid,
# dropout disabled); the tokenizer is the model folder's, through AutoTokenizer (pad = EOS).
#
# Tokenization: where the prompt ends at a word boundary (the completion starts with its own
# space, or the prompt ends with "\n") the ids are the same: BOS, the prompt, the completion,
# one EOS (TRL appends the EOS text "</s>", which the tokenizer turns into the EOS id). The
# known, deliberate differences (docs/dpo.md, "Differences from TRL") are checked on their own,
# as relations between the two tokenizations, with TRL's _prepare_dataset called unbound:
#  1. A prompt that ends with a space or inside a word: TRL tokenizes prompt + completion as
#     one string and cuts the prompt back to where its own ids stop being a prefix of that;
#     zili keeps the prompt's own ids and continues the completion after them.
#  2. "</s>" written in a completion: TRL's tokenizer makes it the EOS id (and TRL adds no
#     other); zili keeps the characters as text and appends the EOS id.
#  3. A tokenizer with add_eos_token true: TRL's completions end with two EOS (the tokenizer's
#     and the "</s>" TRL appends); zili's end with one.
# Exit 0: all agree as stated; 1: a mismatch; 77: TRL (or PEFT) is missing (skip).
import json
import shutil
import sys
from types import SimpleNamespace

from common import make_random_llama, parse_args, read_jsonl, run

try:
    import datasets
    import torch
    import transformers
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer
except ImportError as e:  # the venv lacks the reference: skip, do not fail
    print(f"skip: {e}")
    sys.exit(77)

TOLERANCE = 1e-4
BETA = 0.1
# Prompts that end at a word boundary; chosen and rejected of different lengths, both ways.
PAIRS = [
    {"prompt": "What is 2 plus 3?", "chosen": " 5.", "rejected": " It is six, I think."},
    {"prompt": "The cat sat on the", "chosen": " mat, as cats do.", "rejected": " moon."},
    {"prompt": "Name a colour.", "chosen": " Blue.", "rejected": " Green and red and yellow."},
    {"prompt": "Q: say hello\nA:", "chosen": " hello there, friend!", "rejected": " no"},
    {"prompt": "Two plus three is five, and seven times six is\n", "chosen": "42.",
     "rejected": "forty-two, or so I would say."},
]
# The deliberate tokenization differences 1 and 2 of the header.
SPLIT_PROMPTS = [
    {"prompt": "Answer: ", "chosen": "yes.", "rejected": "no, never."},
    {"prompt": "The colour is bl", "chosen": "ue.", "rejected": "ack."},
]
EOS_TEXT = [{"prompt": "Answer:", "chosen": " yes.</s>", "rejected": " no, never."}]


def make_base(zili, work, tokenizer_dir=None):
    """The random Llama of test_peft_parity (common.make_random_llama)."""
    return make_random_llama(zili, work, tokenizer_dir)


def load_base(base_dir):
    return AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32,
                                                attn_implementation="eager")


def make_adapter(base_dir, work):
    config = LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, lora_dropout=0.0,
                        target_modules="all-linear")
    peft_model = get_peft_model(load_base(base_dir), config)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.2)
    adapter_dir = work / "adapter"
    peft_model.save_pretrained(adapter_dir)
    return adapter_dir


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


# --- zili -------------------------------------------------------------------------------------

def zili_ids(zili, work, model_dir, pairs, label):
    """[(prompt ids, chosen ids, rejected ids)] as zili tokenizes the pairs: each side as a
    prompt/completion line of `zili eval --per-token` (the tokens it scores are the completion)."""
    lines = [{"prompt": p["prompt"], "completion": p[side]} for p in pairs
             for side in ("chosen", "rejected")]
    data = write_jsonl(work / f"{label}-sequences.jsonl", lines)
    out = work / f"{label}-sequences-eval.jsonl"
    run([zili, "eval", "--model", model_dir, "--data", data, "--per-token", "--out", out,
         "--threads", 1])
    records = read_jsonl(out)
    result = []
    for chosen, rejected in zip(records[0::2], records[1::2]):
        cut_c = len(chosen["ids"]) - chosen["tokens"]
        cut_r = len(rejected["ids"]) - rejected["tokens"]
        assert chosen["ids"][:cut_c] == rejected["ids"][:cut_r], "two prompts for one pair"
        result.append((chosen["ids"][:cut_c], chosen["ids"][cut_c:], rejected["ids"][cut_r:]))
    return result


def zili_pair_logps(zili, work, base_dir, adapter_dir, data):
    out = work / "zili-pairs.jsonl"
    run([zili, "eval", "--model", base_dir, "--adapter", adapter_dir, "--data", data, "--out", out,
         "--beta", BETA, "--threads", 1])
    return read_jsonl(out)


def zili_first_step(zili, work, base_dir, adapter_dir, data, pairs):
    run_dir = work / "zili-run"
    run([zili, "dpo", "--model", base_dir, "--init-adapter", adapter_dir, "--data", data,
         "--out", run_dir, "--batch-size", pairs, "--max-steps", 1, "--log-every", 1,
         "--lr", "1e-6", "--beta", BETA, "--threads", 1])
    steps = [r for r in read_jsonl(run_dir / "metrics.jsonl") if r.get("step") == 1 and "loss" in r]
    assert len(steps) == 1, steps
    return steps[0]


# --- TRL --------------------------------------------------------------------------------------

def trl_trainer(work, base_dir, adapter_dir, pairs, tokenizer_dir=None):
    """tokenizer_dir: where AutoTokenizer reads the tokenizer (default base_dir)."""
    model = PeftModel.from_pretrained(load_base(base_dir), adapter_dir, is_trainable=True)
    args = DPOConfig(output_dir=str(work / "trl"), report_to=[], use_cpu=True, bf16=False,
                     beta=BETA, per_device_train_batch_size=len(pairs), max_steps=1,
                     logging_steps=1, learning_rate=1e-6, save_strategy="no", disable_tqdm=True)
    trainer = DPOTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(pairs),
                         processing_class=AutoTokenizer.from_pretrained(tokenizer_dir or base_dir))
    trainer.remove_callback(transformers.PrinterCallback)  # the metrics are compared, not printed
    return trainer


def trl_per_pair(trainer):
    """TRL's metrics on a batch of each pair alone, before any update: the pair's own
    log-probs, and its completions' mean logits."""
    results = []
    metrics = trainer._metrics["train"]
    for example in trainer.train_dataset:
        with torch.no_grad():
            trainer.compute_loss(trainer.model, trainer.data_collator([example]))
        results.append({key: metrics[key][-1] for key in ("logps/chosen", "logps/rejected",
                                                          "logits/chosen", "logits/rejected")})
        results[-1]["tokens/chosen"] = len(example["chosen_ids"])
        results[-1]["tokens/rejected"] = len(example["rejected_ids"])
    metrics.clear()
    return results


def trl_ids(tokenizer, pairs):
    """TRL's tokenization of string pairs: DPOTrainer._prepare_dataset without a trainer."""
    trainer = SimpleNamespace(_tokenizer=tokenizer)
    args = SimpleNamespace(dataset_num_proc=None, max_length=None, truncation_mode="keep_start")
    prepared = DPOTrainer._prepare_dataset(trainer, datasets.Dataset.from_list(pairs), tokenizer,
                                           args, "train")
    return [(e["prompt_ids"], e["chosen_ids"], e["rejected_ids"]) for e in prepared]


# --- comparing --------------------------------------------------------------------------------

def report(label, diff, ok, note="", what="max |zili - trl|"):
    print(f"{label:44s} {what} = {diff:.2e}{note}  {'ok' if ok else 'MISMATCH'}")
    return ok


def compare_ids(label, ours, theirs):
    ok = ours == theirs
    print(f"{label:44s} {len(ours)} pairs, ids {'equal' if ok else 'DIFFER'}  "
          f"{'ok' if ok else 'MISMATCH'}")
    if not ok:
        for i, (a, b) in enumerate(zip(ours, theirs)):
            if a != b:
                print(f"  pair {i}: zili {a}\n          trl  {b}")
    return ok


def documented(label, holds):
    print(f"  {label}  {'as documented' if holds else 'NOT AS DOCUMENTED'}")
    return holds


def known_differences(zili, work, base_dir):
    """Differences 1-3 of the header, each as the relation it states."""
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    eos = tokenizer.eos_token_id
    ok = True

    # 1. TRL cuts the prompt back; zili keeps the prompt's own ids.
    ours_all = zili_ids(zili, work, base_dir, SPLIT_PROMPTS, "split")
    for pair, ours, theirs in zip(SPLIT_PROMPTS, ours_all, trl_ids(tokenizer, SPLIT_PROMPTS)):
        alone = tokenizer(pair["prompt"])["input_ids"]
        cut = len(theirs[0])
        ok &= documented(f"1. prompt {pair['prompt']!r}: zili's {ours[0]}, TRL's {theirs[0]}",
                         ours[0] == alone and cut < len(alone) and alone[:cut] == theirs[0])

    # 2. "</s>" in the text: TRL's EOS id, zili's characters then EOS.
    (ours,) = zili_ids(zili, work, base_dir, EOS_TEXT, "eos-text")
    (theirs,) = trl_ids(tokenizer, EOS_TEXT)
    mine, ref = ours[1], theirs[1]
    ok &= documented(f"2. chosen {EOS_TEXT[0]['chosen']!r}: zili {mine}, TRL {ref}",
                     ours[0] == theirs[0] and ours[2] == theirs[2] and ref.count(eos) == 1
                     and ref[-1] == eos and mine.count(eos) == 1 and mine[-1] == eos
                     and len(mine) > len(ref) and mine[:len(ref) - 1] == ref[:-1])

    # 3. add_eos_token: TRL's completions end with EOS EOS, zili's with one EOS.
    eos_dir = work / "base-add-eos"
    eos_dir.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.model", "special_tokens_map.json"):
        shutil.copy(base_dir / name, eos_dir / name)
    config = json.loads((base_dir / "tokenizer_config.json").read_text())
    config["add_eos_token"] = True
    (eos_dir / "tokenizer_config.json").write_text(json.dumps(config))
    ours_all = zili_ids(zili, work, eos_dir, PAIRS, "add-eos")
    theirs_all = trl_ids(AutoTokenizer.from_pretrained(eos_dir), PAIRS)
    holds = all(o[0] == t[0] and o[1] + [eos] == t[1] and o[2] + [eos] == t[2]
                and o[1].count(eos) == 1 and o[2].count(eos) == 1
                for o, t in zip(ours_all, theirs_all))
    ok &= documented(f"3. add_eos_token: zili's chosen ends ...{ours_all[0][1][-2:]}, TRL's "
                     f"...{theirs_all[0][1][-3:]}", holds)
    return ok


def compare_logps(zili, work, base_dir, adapter_dir, data, trainer):
    """Each pair's policy log-probs, then the first step with all pairs in one batch: zili
    (eval, dpo) on the pair file against TRL's trainer on the ids in its train_dataset."""
    ok = True
    # Per pair: zili eval's policy log-probs against TRL's on the pair alone.
    ours = zili_pair_logps(zili, work, base_dir, adapter_dir, data)
    theirs = trl_per_pair(trainer)
    diff = max(max(abs(o["policy_chosen"] - t["logps/chosen"]),
                   abs(o["policy_rejected"] - t["logps/rejected"])) for o, t in zip(ours, theirs))
    moved = max(max(abs(o["policy_chosen"] - o["reference_chosen"]),
                    abs(o["policy_rejected"] - o["reference_rejected"])) for o in ours)
    # The adapter must move the numbers, or agreeing would prove less.
    ok &= report(f"per pair policy logps ({len(ours)} pairs)", diff,
                 len(ours) == len(theirs) and diff <= TOLERANCE and moved > 0.1,
                 f" (|logps| up to {max(abs(t['logps/chosen']) for t in theirs):.0f}, "
                 f"adapter moves them by up to {moved:.1f})")

    # The first step, all pairs in one batch.
    step = zili_first_step(zili, work, base_dir, adapter_dir, data, len(trainer.train_dataset))
    trainer.train()
    logged = trainer.state.log_history[0]
    for key in ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen",
                "logps/rejected"):
        diff = abs(step[key] - logged[key])
        ok &= report(f"step 1 {key}", diff, diff <= TOLERANCE, f" ({logged[key]:.6g})")
    diff = abs(step["grad_norm"] - logged["grad_norm"])
    ok &= report("step 1 grad_norm", diff, diff <= TOLERANCE * max(1.0, abs(logged["grad_norm"])),
                 f" ({logged['grad_norm']:.6g})")
    # logits/*: zili's is the mean of per-pair means, TRL's is token-weighted over the batch.
    for side in ("chosen", "rejected"):
        key = f"logits/{side}"
        means = [t[key] for t in theirs]
        tokens = [t[f"tokens/{side}"] for t in theirs]
        per_pair = sum(means) / len(means)
        weighted = sum(m * n for m, n in zip(means, tokens)) / sum(tokens)
        diff = max(abs(step[key] - per_pair), abs(logged[key] - weighted))
        ok &= report(f"step 1 {key}", diff, diff <= TOLERANCE,
                     f" (zili {step[key]:.4f} = mean of pair means, trl {logged[key]:.4f} = "
                     "token mean)", "max diff from TRL's per-pair values")
    return ok


def quiet_single_thread():
    """One CPU thread (2 cores, ctest -j2), and no progress bars or warnings from the references."""
    torch.set_num_threads(1)
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()


def main():
    zili, work = parse_args()
    quiet_single_thread()
    base_dir = make_base(zili, work)
    adapter_dir = make_adapter(base_dir, work)
    data = write_jsonl(work / "pairs.jsonl", PAIRS)
    ok = True

    trainer = trl_trainer(work, base_dir, adapter_dir, PAIRS)
    theirs_ids = [(e["prompt_ids"], e["chosen_ids"], e["rejected_ids"])
                  for e in trainer.train_dataset]
    ok &= compare_ids("token ids (prompt, chosen, rejected)",
                      zili_ids(zili, work, base_dir, PAIRS, "pairs"), theirs_ids)

    ok &= compare_logps(zili, work, base_dir, adapter_dir, data, trainer)

    print("known tokenization differences:")
    ok &= known_differences(zili, work, base_dir)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
