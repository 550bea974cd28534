"""zili's LoRA adapters agree with Hugging Face PEFT in both directions, and zili's merge with
PEFT's merge_and_unload.

- Adapters that PEFT writes (get_peft_model + save_pretrained, with non-zero B; rsLoRA on and
  off; a subset of target modules; layers_to_transform) load in zili, and `zili eval
  --adapter` gives the per-token log-probs of PEFT's model.
- An adapter that zili writes (`zili lora-init --random-b`) loads with
  PeftModel.from_pretrained and gives zili's log-probs.
- `zili merge` of a PEFT adapter loads in transformers (AutoModelForCausalLM) and gives the
  logits of PEFT's merge_and_unload() of the same adapter.
All in fp32, to 1e-4 in log-probs (1e-5 relative and absolute for the merged logits).
Then, per family beyond Llama (common.FAMILIES: Mistral-Nemo, Qwen2 with its biases, Qwen3,
Gemma 2, Gemma 3, Phi-3 with LoRA on the fused qkv_proj and gate_up_proj): an all-linear PEFT
adapter in zili, `zili merge` against merge_and_unload, and zili's all-linear adapter in PEFT.
"""
import json
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

from common import (FAMILIES, make_random_family, make_random_llama, make_tokenizer_dir,
                    parse_args, read_jsonl, run)

TOLERANCE = 1e-4
TEXTS = ["The cat sat on the mat.", "Two plus three is five, and seven times six is 42.",
         "A long line of words: " + "red green blue " * 8]

ADAPTERS = {
    "q-v": dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    "all-rslora": dict(r=8, lora_alpha=16, target_modules="all-linear", use_rslora=True),
    "subset-layer1": dict(r=2, lora_alpha=5, target_modules=["k_proj", "down_proj"],
                          layers_to_transform=[1]),
}


def base_model(path):
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32,
                                                attn_implementation="eager").eval()


def logprobs_of(model, ids):
    with torch.no_grad():
        tokens = torch.tensor([ids])
        logits = model(tokens).logits.float()[0, :-1]
        return torch.log_softmax(logits, -1).gather(-1, tokens[0, 1:, None])[:, 0]


def zili_logprobs(zili, work, model_dir, data, adapter=None, label="eval"):
    out = work / f"{label}.jsonl"
    cmd = [zili, "eval", "--model", model_dir, "--data", data, "--per-token", "--out", out]
    if adapter:
        cmd += ["--adapter", adapter]
    run(cmd)
    return read_jsonl(out)


def compare(label, records, reference_model, base_records=None):
    worst, moved = 0.0, 0.0
    for i, record in enumerate(records):
        ours = torch.tensor(record["token_logprobs"])
        worst = max(worst, (ours - logprobs_of(reference_model, record["ids"])).abs().max().item())
        if base_records:
            moved = max(moved, (ours - torch.tensor(base_records[i]["token_logprobs"])).abs().max().item())
    # The adapter must move the numbers, or agreeing would prove nothing.
    ok = worst <= TOLERANCE and (base_records is None or moved > 1e-2)
    print(f"{label:28s} max |zili - peft| = {worst:.2e}, adapter moves log-probs by up to "
          f"{moved:.2f}  {'ok' if ok else 'MISMATCH'}")
    return ok


def merged_equal(label, zili, base_dir, adapter_dir, merged_dir, peft_model, ids):
    run([zili, "merge", "--model", base_dir, "--adapter", adapter_dir, "--out", merged_dir])
    theirs = peft_model.merge_and_unload().eval()
    ours = base_model(merged_dir)
    ids = torch.tensor([ids])
    with torch.no_grad():
        a, b = ours(ids).logits, theirs(ids).logits
    # fp32 rounding of logits of size ~30 is ~1e-5 absolute: compare relatively too.
    merged_ok = torch.allclose(a, b, rtol=1e-5, atol=1e-5)
    print(f"{label:28s} max |logits diff| = "
          f"{(a - b).abs().max().item():.2e} (logits up to {b.abs().max().item():.1f})  "
          f"{'ok' if merged_ok else 'MISMATCH'}")
    return merged_ok


def check_family(zili, work, family, tokenizer_dir, data):
    """Both directions and the merge for one family, all-linear (its own module names)."""
    base_dir = make_random_family(zili, work, family, tokenizer_dir)
    base_records = zili_logprobs(zili, work, base_dir, data, label=f"{family}-base")
    peft_model = get_peft_model(base_model(base_dir), LoraConfig(
        task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules="all-linear"))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.2)
    adapter_dir = work / f"peft-{family}"
    peft_model.save_pretrained(adapter_dir)
    records = zili_logprobs(zili, work, base_dir, data, adapter_dir, f"{family}-peft")
    ok = compare(f"{family} PEFT -> zili", records, peft_model.eval(), base_records)
    ok &= merged_equal(f"{family} merge vs PEFT's", zili, base_dir, adapter_dir,
                       work / f"merged-{family}", peft_model, base_records[2]["ids"])
    zili_adapter = work / f"zili-{family}"
    run([zili, "lora-init", "--model", base_dir, "--out", zili_adapter, "--lora-r", 4,
         "--lora-alpha", 12, "--lora-targets", "all-linear", "--random-b", 0.2, "--seed", 5])
    records = zili_logprobs(zili, work, base_dir, data, zili_adapter, f"{family}-zili")
    peft_model = PeftModel.from_pretrained(base_model(base_dir), zili_adapter).eval()
    ok &= compare(f"{family} zili -> PEFT", records, peft_model, base_records)
    return ok


def main():
    zili, work = parse_args()
    torch.set_num_threads(2)
    tokenizer_dir = make_tokenizer_dir(zili, work)
    base_dir = make_random_llama(zili, work, tokenizer_dir)
    data = work / "texts.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    base_records = zili_logprobs(zili, work, base_dir, data, label="base")

    ok = True
    for label, settings in ADAPTERS.items():
        peft_model = get_peft_model(base_model(base_dir), LoraConfig(task_type="CAUSAL_LM", **settings))
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_B" in name:
                    param.normal_(0, 0.2)
        adapter_dir = work / f"peft-{label}"
        peft_model.save_pretrained(adapter_dir)
        records = zili_logprobs(zili, work, base_dir, data, adapter_dir, label)
        ok &= compare(f"PEFT {label} -> zili", records, peft_model.eval(), base_records)

        if label == "all-rslora":
            ok &= merged_equal("zili merge vs merge_and_unload", zili, base_dir, adapter_dir,
                               work / "merged", peft_model, base_records[1]["ids"])

    # The other direction: zili writes, PEFT reads.
    for label, flags in [("subset-rslora", ["--lora-targets", "q_proj,o_proj,up_proj", "--rslora"]),
                         ("all-linear", ["--lora-targets", "all-linear", "--lora-layers", "1"])]:
        zili_adapter = work / f"zili-{label}"
        run([zili, "lora-init", "--model", base_dir, "--out", zili_adapter, "--lora-r", 4,
             "--lora-alpha", 12, *flags, "--random-b", 0.2, "--seed", 5])
        records = zili_logprobs(zili, work, base_dir, data, zili_adapter, f"zili-{label}")
        peft_model = PeftModel.from_pretrained(base_model(base_dir), zili_adapter).eval()
        ok &= compare(f"zili {label} -> PEFT", records, peft_model, base_records)

    for family in FAMILIES:
        ok &= check_family(zili, work, family, tokenizer_dir, data)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
