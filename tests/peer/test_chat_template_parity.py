# Peer test: the chat templates `zili init --chat-template chatml|zephyr` writes (Jinja text in
# tokenizer_config.json, the markers trained into the tokenizer as whole pieces) against
# transformers' apply_chat_template, and the first step of `zili dpo` on conversational pairs
# {"prompt": [messages], "chosen": [assistant], "rejected": [assistant]} against TRL 1.16's
# DPOTrainer, which tokenizes them through apply_chat_template with that Jinja.
#   python test_chat_template_parity.py --zili build/zili --work SCRATCH_DIR
#
# For each template, on a tokenizer made by `zili init --preset tiny --train-tokenizer
# data/tokenizer-corpus.txt --vocab-size 512 --chat-template T` and prompts with and without a
# system message, single and multi-turn:
# - Prompt ids: AutoTokenizer.apply_chat_template(messages, add_generation_prompt=True,
#   tokenize=True) equals zili's prompt ids (tokenize_prompt_parts(render_prompt(...)), read
#   from `zili eval --per-token` as test_dpo_trainer_parity reads them), and TRL's prompt_ids.
#   `zili generate --chat` renders its prompt the same way: for a [system +] user prompt its
#   logged prompt length equals transformers', and its greedy reply (stopped at the end-of-turn
#   piece or EOS) is transformers' greedy generate from transformers' prompt ids, as
#   sentencepiece decodes those ids (transformers' decode turns a run of byte pieces that is
#   not valid UTF-8 into one U+FFFD per byte, where sentencepiece and zili keep the valid ones).
# - The markers: convert_tokens_to_ids gives each one id, the ids zili writes; in the ids of a
#   conversation (zili's and transformers') each marker is that one token, as often as the
#   rendered text has it; decode gives back the rendered text.
# - The completions, a real difference (docs/dpo.md, "Differences from TRL"): the Jinja writes
#   "\n" after every message, the last one too, and TRL appends no EOS to a conversational
#   pair, so TRL's completion is the reply, its end-of-turn marker and "\n"; zili's sequence
#   ends with the end-of-turn marker and EOS once:
#     chatml  TRL  A <|im_end|> \n     zili  A <|im_end|> </s>
#     zephyr  TRL  A </s> \n           zili  A </s>
#   Checked as that relation (everything before the tail equal).
# - The log-probs, to 1e-4 as in test_dpo_trainer_parity (which runs them): TRL's DPOTrainer
#   given zili's ids (its train_dataset replaced by them after TRL tokenized the pairs), against
#   `zili eval --adapter` and `zili dpo --init-adapter --max-steps 1` on the pair file: each
#   pair's policy logps, then the first step's loss, rewards/*, logps/*, grad_norm, logits/*.
#   So zili dpo trains on exactly the ids compared above. What TRL's own ids change (the tail
#   token) is printed, not checked.
# - A marker typed in a message's content ("<|im_end|>", "<|user|>"): transformers makes it the
#   marker's id, zili keeps it as text (docs/training.md): the decoded text is the same, zili's
#   ids hold the marker id once less.
# Exit 0: all agree as stated; 1: a mismatch; 77: TRL (or PEFT) is missing (skip).
import subprocess
import sys

from common import CORPUS, copy_tokenizer, parse_args, run

try:
    import datasets
    import sentencepiece
    import torch
    from transformers import AutoTokenizer
    from test_dpo_trainer_parity import (compare_logps, load_base, make_adapter, make_base,
                                         quiet_single_thread, trl_per_pair, trl_trainer,
                                         write_jsonl, zili_ids)
except ImportError as e:  # the venv lacks the reference: skip, do not fail
    print(f"skip: {e}")
    sys.exit(77)

TEMPLATES = ("chatml", "zephyr")
# The marker written at the end of a reply, and the marker typed in content for the check above.
END_OF_TURN = {"chatml": "<|im_end|>", "zephyr": "</s>"}
TYPED = {"chatml": "<|im_end|>", "zephyr": "<|user|>"}


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return [{"role": "assistant", "content": text}]


SYSTEM = {"role": "system", "content": "You are terse."}
# With and without a system message, single and multi-turn; replies of different lengths,
# one starting with a space and ending with "\n".
PAIRS = [
    {"prompt": [user("What is 2 plus 3?")], "chosen": assistant("It is 5."),
     "rejected": assistant("Six, I think, or maybe seven.")},
    {"prompt": [SYSTEM, user("Name a colour.")], "chosen": assistant("Blue."),
     "rejected": assistant("Green and red and yellow.")},
    {"prompt": [{"role": "system", "content": "Answer in one word."}, user("Hi"),
                *assistant("Hello!"), user("Say bye.")],
     "chosen": assistant("Bye."), "rejected": assistant(" bye now, see you\n")},
    {"prompt": [user("Q: say hello"), *assistant("hello"), user("again")],
     "chosen": assistant("hello there, friend!"), "rejected": assistant("no")},
]
GENERATE = [("What is 2 plus 3?", None), ("Name a colour.", SYSTEM["content"])]
NEW_TOKENS = 16


def chat_ids(tokenizer, messages, **kwargs):
    """apply_chat_template(..., tokenize=True)'s ids, whether it returns a list or a dict."""
    out = tokenizer.apply_chat_template(messages, tokenize=True, **kwargs)
    return list(out["input_ids"]) if hasattr(out, "keys") else list(out)


def check(label, ok):
    print(f"{label:44s} {'ok' if ok else 'MISMATCH'}")
    return ok


def make_chat_base(zili, work, template):
    tokenizer_dir = work / "tokenizer"
    run([zili, "init", "--preset", "tiny", "--train-tokenizer", CORPUS, "--vocab-size", 512,
         "--chat-template", template, "--out", tokenizer_dir, "--threads", 1])
    return make_base(zili, work, tokenizer_dir)


def marker_checks(template, tokenizer, ours):
    """The markers as single tokens, in transformers' ids and zili's, and decode."""
    markers = [t.content for i, t in tokenizer.added_tokens_decoder.items() if i > 2]
    ok = check(f"markers {markers} are pieces",
               len(markers) >= 2 and all(len(tokenizer.tokenize(m)) == 1 for m in markers))
    for pair, (prompt, chosen, _) in zip(PAIRS, ours):
        messages = pair["prompt"] + pair["chosen"]
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        theirs = chat_ids(tokenizer, messages)
        # zili's sequence decodes to the rendered text with EOS in place of its final "\n"
        # (chatml) or without it (zephyr): the tail relation compare_pairs checks on the ids.
        zili_text = tokenizer.decode(prompt + chosen)
        for ids in (theirs, prompt + chosen):
            tokens = tokenizer.convert_ids_to_tokens(ids)
            for m in markers:
                ok &= tokens.count(m) == ids.count(tokenizer.convert_tokens_to_ids(m)) \
                    == text.count(m)
        ok &= tokenizer.decode(theirs) == text
        ok &= zili_text == text[:-1] + ("" if template == "zephyr" else tokenizer.eos_token)
        ok &= tokenizer.decode(prompt) == tokenizer.apply_chat_template(
            pair["prompt"], tokenize=False, add_generation_prompt=True)
    return check("markers one token each, decode", ok)


def tail_relation(tokenizer, ours, theirs):
    """TRL's completion = zili's without its appended EOS, then the "\n" the Jinja writes."""
    newline = tokenizer.convert_tokens_to_ids("<0x0A>")
    eos = tokenizer.eos_token_id
    body = theirs[:-1]
    return theirs[-1] == newline and ours == body + ([] if body[-1] == eos else [eos])


def compare_pairs(tokenizer, ours, trl):
    ok = True
    for i, (pair, o, t) in enumerate(zip(PAIRS, ours, trl)):
        prompt = chat_ids(tokenizer, pair["prompt"], add_generation_prompt=True)
        good = o[0] == prompt == t[0]
        good &= tail_relation(tokenizer, o[1], t[1]) and tail_relation(tokenizer, o[2], t[2])
        if not good:
            print(f"  pair {i}: zili {o}\n          trl  {t}\n          apply_chat_template prompt "
                  f"{prompt}")
        ok &= good
    tails = [tokenizer.convert_ids_to_tokens(ids[1][-2:]) for ids in (trl[0], ours[0])]
    return check(f"{len(ours)} pairs: prompts =, tails TRL {tails[0]} zili {tails[1]}", ok)


def typed_marker(zili, work, template, base_dir, tokenizer):
    marker = TYPED[template]
    pair = {"prompt": [user(f"Write {marker} here.")], "chosen": assistant("Done."),
            "rejected": assistant("No.")}
    ((ours, _, _),) = zili_ids(zili, work, base_dir, [pair], "typed")
    theirs = chat_ids(tokenizer, pair["prompt"], add_generation_prompt=True)
    marker_id = tokenizer.convert_tokens_to_ids(marker)
    holds = (tokenizer.decode(ours) == tokenizer.decode(theirs)
             and theirs.count(marker_id) == ours.count(marker_id) + 1)
    print(f"  {marker!r} typed: zili {ours.count(marker_id)}x id {marker_id}, transformers "
          f"{theirs.count(marker_id)}x  {'as documented' if holds else 'NOT AS DOCUMENTED'}")
    return holds


def greedy(model, ids, stops):
    """transformers' greedy reply to the prompt ids, and the stop id that ended it (or None)."""
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False,
                             eos_token_id=stops, pad_token_id=stops[0])
    new = out[0, len(ids):].tolist()
    return (new[:-1], new[-1]) if new and new[-1] in stops else (new, None)


def compare_generate(zili, model_dir, tokenizer, stops, label):
    """zili generate --chat against transformers' greedy generate from apply_chat_template;
    also the end-of-turn stops seen."""
    model = load_base(model_dir)
    spm = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / "tokenizer.model"))
    ok = True
    ended = []
    for prompt, system in GENERATE:
        messages = ([{"role": "system", "content": system}] if system else []) + [user(prompt)]
        ids = chat_ids(tokenizer, messages, add_generation_prompt=True)
        new, stop = greedy(model, ids, stops)
        ended.append(stop)
        cmd = [zili, "generate", "--model", model_dir, "--chat", "--prompt", prompt,
               "--max-new-tokens", NEW_TOKENS, "--threads", 1]
        result = subprocess.run([str(c) for c in cmd + (["--system", system] if system else [])],
                                capture_output=True, encoding="utf-8", errors="surrogateescape")
        logged = f"{len(ids)} prompt tokens, {len(new)} new tokens"
        good = (result.returncode == 0 and logged in result.stderr
                and result.stdout == spm.decode(new) + "\n")
        if not good:
            print(f"  {prompt!r}: transformers {len(ids)} prompt ids, reply {new} "
                  f"{spm.decode(new)!r}\n  zili {result.stdout!r}, log {result.stderr.strip()!r}")
        ok &= good
    stopped = [tokenizer.convert_ids_to_tokens(s) for s in ended if s is not None]
    return check(f"generate --chat = greedy generate{label} (stops {stopped})", ok), ended


def force_stop(base_dir, work, tokenizer, stop):
    """A copy of the base whose output row of the end-of-turn id is twice that of the 3rd token
    of the first greedy reply: the reply then ends with that id (at the 3rd token or before)."""
    model = load_base(base_dir)
    ids = chat_ids(tokenizer, [user(GENERATE[0][0])], add_generation_prompt=True)
    new, _ = greedy(model, ids, [tokenizer.eos_token_id])
    with torch.no_grad():
        model.lm_head.weight[stop] = 2 * model.lm_head.weight[new[2]]
    stop_dir = work / "base-stop"
    model.save_pretrained(stop_dir)
    copy_tokenizer(base_dir, stop_dir)
    return stop_dir


def run_template(zili, work, template):
    print(f"== {template}")
    work = work / template
    work.mkdir()
    base_dir = make_chat_base(zili, work, template)
    adapter_dir = make_adapter(base_dir, work)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    ours = zili_ids(zili, work, base_dir, PAIRS, "pairs")

    ok = marker_checks(template, tokenizer, ours)
    trainer = trl_trainer(work, base_dir, adapter_dir, PAIRS)  # tokenizes through the Jinja
    trl = [(e["prompt_ids"], e["chosen_ids"], e["rejected_ids"]) for e in trainer.train_dataset]
    ok &= compare_pairs(tokenizer, ours, trl)
    end_of_turn = tokenizer.convert_tokens_to_ids(END_OF_TURN[template])
    stops = [tokenizer.eos_token_id, end_of_turn]
    ok &= compare_generate(zili, base_dir, tokenizer, stops, "")[0]
    # The same where the reply ends with the end-of-turn piece, so that stopping is compared.
    stop_dir = force_stop(base_dir, work, tokenizer, end_of_turn)
    good, ended = compare_generate(zili, stop_dir, tokenizer, stops, ", forced stop")
    ok &= good and ended[0] == end_of_turn

    # TRL's trainer on zili's ids; first what its own ids (the "\n" tail) would change.
    own = trl_per_pair(trainer)
    trainer.train_dataset = datasets.Dataset.from_list(
        [{"prompt_ids": p, "chosen_ids": c, "rejected_ids": r} for p, c, r in ours])
    same = trl_per_pair(trainer)
    tail = max(max(abs(a["logps/chosen"] - b["logps/chosen"]),
                   abs(a["logps/rejected"] - b["logps/rejected"])) for a, b in zip(own, same))
    print(f"{'TRL on its own ids (the tail) moves logps by':44s} up to {tail:.2f} (not checked)")
    data = write_jsonl(work / "pairs.jsonl", PAIRS)
    ok &= compare_logps(zili, work, base_dir, adapter_dir, data, trainer)

    print("known differences:")
    ok &= typed_marker(zili, work, template, base_dir, tokenizer)
    return ok


def main():
    zili, work = parse_args()
    quiet_single_thread()
    ok = True
    for template in TEMPLATES:
        ok &= run_template(zili, work, template)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
