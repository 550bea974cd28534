#!/usr/bin/env python3
# The baseline of bench/run.sh: what a Python user runs today for LoRA DPO, TRL's DPOTrainer with
# a PEFT LoraConfig on the transformers model, on the CPU in fp32, timed step by step.
#
#   $ZILI_VENV/bin/python bench/baseline/trl_dpo.py --model M --data pairs.jsonl --max-length 512 \
#       --batch-size 2 --warmup 1 --steps 5 --threads 2 --out result.json
#
# Settings, all as zili's side of the bench has them: LoRA r=16, alpha 32, dropout 0 on every
# linear layer ("all-linear": q, k, v, o, gate, up, down; not lm_head); sigmoid loss, beta 0.1;
# TRL's AdamW at its default lr 1e-6, linear decay; max_length as given. TRL's defaults are kept
# otherwise; the ones changed: gradient_checkpointing=False (DPOConfig's default is True; it
# is its own row, --grad-checkpoint), bf16=False (its default autocasts the forward to bf16,
# on the CPU too), use_cpu, no saving, no reports, and logging every step (to read the first
# step's metrics); precompute_ref_log_probs only when asked (its row). The reference is the base model (TRL
# disables the fresh adapter for it), as in `zili dpo` without --init-adapter.
#
# Timed: the training steps only. Model loading, tokenization and the precomputed reference
# pass happen in DPOTrainer's constructor, before the clock starts. A step's time is the interval
# between the ends of consecutive steps (TrainerCallback.on_step_end), which includes fetching
# and collating its batch, as zili's does; the first `--warmup` steps are not counted.
#
# Output: one JSON object (--out, and stdout): the timed steps' seconds, the first step's loss
# and logps, the tokens a step processes, and the peak RSS (getrusage: the whole process,
# Python, torch and transformers included, as a user's run has them).
import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import datasets  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import LoraConfig  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback  # noqa: E402
from trl import DPOConfig, DPOTrainer  # noqa: E402


class StepClock(TrainerCallback):
    """The wall time at the end of every step (the first entry: the start of training)."""

    def __init__(self):
        self.ends = []

    def on_train_begin(self, args, state, control, **kwargs):
        self.ends.append(time.perf_counter())

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append(time.perf_counter())


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="a transformers checkpoint folder")
    parser.add_argument("--data", required=True, help="JSONL pairs: prompt, chosen, rejected")
    parser.add_argument("--out", required=True, help="the result, JSON")
    parser.add_argument("--max-length", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=2, help="pairs a step")
    parser.add_argument("--warmup", type=int, default=1, help="steps run before the timed ones")
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precompute-ref", action="store_true")
    parser.add_argument("--grad-checkpoint", action="store_true")
    parser.add_argument("--work", default=None, help="TRL's output_dir (nothing is saved there)")
    return parser.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()

    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    pairs = datasets.load_dataset("json", data_files=args.data, split="train")
    lora = LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, lora_dropout=0.0,
                      target_modules="all-linear")
    config = DPOConfig(
        output_dir=args.work or os.path.join(os.path.dirname(os.path.abspath(args.out)), "trl"),
        report_to=[], use_cpu=True, bf16=False, save_strategy="no", disable_tqdm=True,
        logging_steps=1, per_device_train_batch_size=args.batch_size,
        max_steps=args.warmup + args.steps, beta=0.1, loss_type=["sigmoid"],
        max_length=args.max_length, gradient_checkpointing=args.grad_checkpoint,
        precompute_ref_log_probs=args.precompute_ref, dataloader_num_workers=0)
    clock = StepClock()
    trainer = DPOTrainer(model=model, args=config, train_dataset=pairs,
                         processing_class=tokenizer, peft_config=lora, callbacks=[clock])
    trainer.remove_callback(transformers.PrinterCallback)

    # The tokens of one pair as TRL feeds them: prompt + chosen and prompt + rejected.
    prepared = trainer.train_dataset
    pair_tokens = [2 * len(e["prompt_ids"]) + len(e["chosen_ids"]) + len(e["rejected_ids"])
                   for e in prepared]
    if len(set(pair_tokens)) != 1:
        sys.exit(f"trl_dpo.py: the pairs of {args.data} differ in length ({sorted(set(pair_tokens))}"
                 " tokens): a step's tokens would depend on the draw")
    if max(len(e["prompt_ids"]) + len(e["chosen_ids"]) for e in prepared) > args.max_length:
        sys.exit(f"trl_dpo.py: a pair of {args.data} is longer than --max-length {args.max_length}"
                 ": TRL would truncate it")

    trainer.train()
    seconds = [b - a for a, b in zip(clock.ends, clock.ends[1:])]
    first = next(r for r in trainer.state.log_history if r.get("step") == 1 and "loss" in r)
    result = {
        "side": "trl",
        "versions": {"trl": __import__("trl").__version__, "transformers": transformers.__version__,
                     "peft": __import__("peft").__version__, "torch": torch.__version__},
        "step_seconds": seconds[args.warmup:],
        "warmup_seconds": seconds[:args.warmup],
        "tokens_per_step": args.batch_size * pair_tokens[0],
        "first_step": {k: first[k] for k in ("loss", "logps/chosen", "logps/rejected")},
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    text = json.dumps(result)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
