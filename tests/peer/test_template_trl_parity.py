# Peer test: a model folder with a tokenizer.json and a real Jinja chat template (Llama 3.1's,
# Qwen2.5's), as a user brings one, against transformers and TRL 1.16 on the same folder.
#   python test_template_trl_parity.py --zili build/zili --work SCRATCH_DIR
#
# For each family, a byte-level BPE tokenizer trained here with the `tokenizers` library in
# that family's layout (Llama 3: its split regex + ByteLevel, <|begin_of_text|> added by a
# TemplateProcessing post-processor, ignore_merges; Qwen2: NFC + its regex, no BOS), saved by
# transformers with the template next to a random Llama checkpoint, then:
# - `zili tokenize --model DIR`: the ids of AutoTokenizer(text) (BOS from the post-processor).
# - `zili template`: the text of apply_chat_template(tokenize=False) and the ids of
#   apply_chat_template(tokenize=True), with and without the generation prompt.
# - SFT, conversational prompt-completion: zili's ids and trained tokens (`zili template`'s
#   "trained") equal TRL's SFTTrainer input_ids and labels (its _prepare_dataset).
# - SFT, messages: for one-turn conversations the same as the prompt-completion split of
#   them; for several turns, every assistant reply's tokens, each found the way TRL finds a
#   completion (printed beside TRL's assistant_only_loss mask where TRL has a training
#   template for the family, which it then uses).
# - DPO, conversational pairs (explicit and implicit prompt): zili's prompt, chosen and rejected
#   ids equal TRL's DPOTrainer prompt_ids / chosen_ids / rejected_ids.
# - `zili eval` scores the conversations, `zili sft` and `zili dpo` run a step on the folder,
#   `zili generate --chat` renders its prompt with the model's template.
# Exit 0: all equal; 1: a mismatch; 77: a reference package is missing (skip).
import json
import sys
from pathlib import Path
from types import SimpleNamespace

from common import CORPUS, SOURCE_DIR, parse_args, read_jsonl, run
from test_dpo_trainer_parity import trl_ids
from test_tokenizer_json_parity import tekken

try:
    import datasets
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors, trainers
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig
    from transformers import PreTrainedTokenizerFast
    from trl import SFTConfig, SFTTrainer
except ImportError as e:
    print(f"skip: {e}")
    sys.exit(77)

TEMPLATES = SOURCE_DIR / "tests" / "data" / "chat_templates"
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"
               r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

FAMILIES = {
    "llama3": {
        "template": "meta-llama-Llama-3.1-8B-Instruct.jinja",
        "split": LLAMA3_SPLIT, "nfc": False,
        "specials": ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                     "<|end_header_id|>", "<|eot_id|>"],
        "bos": "<|begin_of_text|>", "eos": "<|eot_id|>",
    },
    # Mistral-Nemo's real tokenizer (tekken, 131k tokens, Llama 3 style byte-level BPE) and
    # its own template: the real-size check.
    "tekken": {
        "template": "mistralai-Mistral-Nemo-Instruct-2407.jinja", "bos": "<s>", "eos": "</s>",
    },
    "qwen2": {
        "template": "Qwen-Qwen2.5-7B-Instruct.jinja",
        "split": QWEN2_SPLIT, "nfc": True,
        "specials": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        "bos": None, "eos": "<|im_end|>",
    },
}

PROMPTS = [
    [{"role": "user", "content": "What is 2 plus 3?"}],
    [{"role": "system", "content": "You answer briefly."},
     {"role": "user", "content": "Name a colour. Ünïcödé, 日本語 and emoji 👍🏽!"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Count to three:\n1, 2,"}],
]
REPLIES = [("5.", "It is six, I think."), ("Blue.", "Green, red and yellow."),
           (" 3.", "Four!\r\nFive.")]


def trained_tokenizer(name, family):
    tok = Tokenizer(models.BPE(ignore_merges=name == "llama3"))
    if family["nfc"]:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(family["split"]), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=800, special_tokens=family["specials"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train([str(CORPUS)], trainer)
    if family["bos"]:
        bos = family["bos"]
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                          special_tokens=[(bos, tok.token_to_id(bos))])])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def make_folder(work, name, family):
    """WORK/NAME: tokenizer.json + tokenizer_config.json (with the chat template) and a random
    Llama whose vocabulary is the tokenizer's."""
    if name == "tekken":
        real = tekken(work)
        if real is None:
            return None, None
        tok = real[0]
    else:
        tok = trained_tokenizer(name, family)
    folder = work / name
    folder.mkdir()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=family["bos"],
                                   eos_token=family["eos"])
    fast.chat_template = (TEMPLATES / family["template"]).read_text()
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=64, intermediate_size=112,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         initializer_range=0.3, architectures=["LlamaForCausalLM"],
                         bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    return folder, AutoTokenizer.from_pretrained(folder)


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


def zili_template(zili, work, folder, records, label, *flags):
    data = write_jsonl(work / f"{label}.jsonl", records)
    out = work / f"{label}-out.jsonl"
    run([zili, "template", "--model", folder, "--data", data, "--out", out, *flags])
    return read_jsonl(out)


def trl_sft(tokenizer, records, assistant_only=False):
    """TRL's SFT tokenization (SFTTrainer._prepare_dataset without a trainer): input_ids and
    labels (-100 where not trained)."""
    chat_template = None
    if assistant_only:
        from trl.chat_template_utils import get_training_chat_template
        chat_template = get_training_chat_template(tokenizer)
    trainer = SimpleNamespace(completion_only_loss=True, chat_template=chat_template,
                              _tokenizer=tokenizer)
    args = SFTConfig(output_dir="/tmp/unused", max_length=None, dataset_num_proc=None, use_cpu=True, bf16=False,
                     assistant_only_loss=assistant_only, report_to=[])
    prepared = SFTTrainer._prepare_dataset(trainer, datasets.Dataset.from_list(records), tokenizer,
                                           args, False, None, "train")
    return [(e["input_ids"], [int(label != -100) for label in e["labels"]]) for e in prepared]


class Checks:
    def __init__(self):
        self.failed = 0
        self.skipped = []

    def equal(self, label, ours, theirs):
        ok = ours == theirs
        print(f"{label:70s} {'ok' if ok else 'MISMATCH'}")
        if not ok:
            self.failed += 1
            print(f"  zili: {ours!r}\n  peer: {theirs!r}")
        return ok


def check_family(zili, work, name, family, checks):
    folder, tokenizer = make_folder(work, name, family)
    if folder is None:
        checks.skipped.append(name)
        return

    texts = ["Hello world", "I'LL count 12345 things\r\n\tnow", "日本語 👍🏽 café"]
    for text in texts:
        ids = json.loads(run([zili, "tokenize", "--model", folder, "--text", text,
                              "--json"]).stdout)["ids"]
        checks.equal(f"{name}: tokenize {text!r}", ids, tokenizer(text)["input_ids"])

    conversations = [p + [{"role": "assistant", "content": c}] for p, (c, _) in zip(PROMPTS, REPLIES)]
    for generation_prompt in (False, True):
        records = [{"messages": p if generation_prompt else c}
                   for p, c in zip(PROMPTS, conversations)]
        flags = ["--add-generation-prompt"] if generation_prompt else []
        ours = zili_template(zili, work, folder, records, f"{name}-render-{generation_prompt}", *flags)
        for i, (record, out) in enumerate(zip(records, ours)):
            text = tokenizer.apply_chat_template(record["messages"], tokenize=False,
                                                 add_generation_prompt=generation_prompt)
            ids = tokenizer.apply_chat_template(record["messages"], tokenize=True,
                                                add_generation_prompt=generation_prompt,
                                                return_dict=True)["input_ids"]
            checks.equal(f"{name}: template text {i}, generation prompt {generation_prompt}",
                         out["text"], text)
            checks.equal(f"{name}: template ids {i}, generation prompt {generation_prompt}",
                         out["ids"], ids)

    # SFT, conversational prompt-completion.
    completions = [{"prompt": p, "completion": [{"role": "assistant", "content": c}]}
                   for p, (c, _) in zip(PROMPTS, REPLIES)]
    ours = zili_template(zili, work, folder, completions, f"{name}-sft-pc")
    for i, (out, (ids, trained)) in enumerate(zip(ours, trl_sft(tokenizer, completions))):
        checks.equal(f"{name}: sft prompt-completion {i} ids", out["ids"], ids)
        trained[0] = 0  # nothing before the first token predicts it (zili's target[0])
        checks.equal(f"{name}: sft prompt-completion {i} trained tokens", out["trained"], trained)

    # SFT, messages: one turn equals its prompt-completion split.
    one_turn = [{"messages": c} for c in conversations[:2]]
    ours_messages = zili_template(zili, work, folder, one_turn, f"{name}-sft-messages")
    for i, out in enumerate(ours_messages):
        checks.equal(f"{name}: sft one-turn messages {i} = prompt-completion",
                     (out["ids"], out["trained"]), (ours[i]["ids"], ours[i]["trained"]))
    multi = [{"messages": conversations[2]}]
    out = zili_template(zili, work, folder, multi, f"{name}-sft-multi")[0]
    trained = tokenizer.decode([t for t, m in zip(out["ids"], out["trained"]) if m])
    end = {"llama3": "<|eot_id|>", "qwen2": "<|im_end|>", "tekken": "</s>"}[name]
    checks.equal(f"{name}: sft multi-turn: both replies and their end markers trained, no more",
                 ("Hello! How can I help?" in trained, "3." in trained, trained.count(end),
                  "Count" in trained or "Hi" in trained), (True, True, 2, False))
    try:
        trl_multi = trl_sft(tokenizer, multi, assistant_only=True)[0]
        print(f"{name}: TRL assistant_only_loss mask (training template) trains "
              f"{tokenizer.decode([t for t, m in zip(*trl_multi) if m])!r}")
    except Exception as e:  # TRL has no training template for this one
        print(f"{name}: TRL assistant_only_loss not available here ({type(e).__name__})")

    # DPO, explicit and implicit prompt.
    pairs = [{"prompt": p, "chosen": [{"role": "assistant", "content": c}],
              "rejected": [{"role": "assistant", "content": r}]}
             for p, (c, r) in zip(PROMPTS, REPLIES)]
    implicit = [{"chosen": x["prompt"] + x["chosen"], "rejected": x["prompt"] + x["rejected"]}
                for x in pairs]
    for label, records in (("explicit", pairs), ("implicit", implicit)):
        ours = zili_template(zili, work, folder, records, f"{name}-dpo-{label}")
        for i, (out, (p, c, r)) in enumerate(zip(ours, trl_ids(tokenizer, records))):
            checks.equal(f"{name}: dpo {label} pair {i} (prompt, chosen, rejected ids)",
                         (out["prompt_ids"], out["chosen_ids"], out["rejected_ids"]), (p, c, r))

    # The commands a user runs on the folder.
    sft_data = write_jsonl(work / f"{name}-sft.jsonl", [{"messages": c} for c in conversations])
    run([zili, "sft", "--model", folder, "--data", sft_data, "--out", work / f"{name}-sft-run",
         "--max-steps", 1, "--batch-size", 2, "--threads", 1])
    run([zili, "eval", "--model", folder, "--data", sft_data, "--threads", 1])
    dpo_data = write_jsonl(work / f"{name}-dpo.jsonl", pairs)
    run([zili, "dpo", "--model", folder, "--data", dpo_data, "--out", work / f"{name}-dpo-run",
         "--max-steps", 1, "--batch-size", 2, "--threads", 1])
    result = run([zili, "generate", "--model", folder, "--chat", "--prompt", "Hi",
                  "--max-new-tokens", 8, "--threads", 1])
    checks.equal(f"{name}: generate --chat uses the model's template",
                 "the model's own (Jinja" in result.stderr, True)


def main():
    zili, work = parse_args()
    checks = Checks()
    for name, family in FAMILIES.items():
        check_family(zili, work, name, family, checks)
    print(f"{checks.failed} mismatches; skipped: {checks.skipped or 'none'}")
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
