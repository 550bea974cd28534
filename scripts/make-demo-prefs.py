#!/usr/bin/env python3
"""Writes the bundled preference data of the DPO demo and tests, deterministically:
data/demo/dpo-train.jsonl (300 lines) and data/demo/dpo-eval.jsonl (40 lines, one for each
question of make-demo-data.held_out(), which no SFT or DPO training line asks), in TRL's
conversational layout {"prompt": [messages], "chosen": [assistant], "rejected": [assistant]}.
The questions are the five kinds of data/demo/sft-train.jsonl, the training pairs in equal
shares. The chosen reply is the right answer, said directly. The rejected one pads the right
answer with filler as most of the SFT replies do ("Hmm, let me see. ... I hope that
helps!"), or, in a third of the pairs, says a wrong answer just as directly, with a mistake
a person sees at once (a wrong sum, a wrong opposite, a wrong past tense or plural, the
smaller number). The kinds with few questions repeat a question with another rejected
reply. Writes under the repository this script is in; the output is committed."""
import importlib.util
import json
import random
from pathlib import Path

_spec = importlib.util.spec_from_file_location("demo_data",
                                               Path(__file__).with_name("make-demo-data.py"))
demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)
ONES, OPPOSITES, VERBS, NOUNS = demo.ONES, demo.OPPOSITES, demo.VERBS, demo.NOUNS
SYSTEM = demo.SYSTEM
WRONG_SHARE = 1 / 3

TRAIN_PER_KIND = 60


def pair(kind, key, rng):
    """(question, right answer, wrong answer) for a question of a kind."""
    question, right = demo.question_and_answer(kind, key, rng)
    if kind == "sum":
        a, b = key
        wrong = rng.choice([s for s in range(21) if s != a + b and abs(s - (a + b)) <= 3])
        return question, right, f"{ONES[a].capitalize()} plus {ONES[b]} is {ONES[wrong]}."
    if kind == "opposite":
        o = next(y if x == key else x for x, y in OPPOSITES if key in (x, y))
        # The word itself, or a word of another pair: neither is its opposite.
        others = [x for p in OPPOSITES for x in p if x not in (key, o)]
        wrong = key if rng.random() < 0.2 else rng.choice(others)
        return question, right, f'The opposite of "{key}" is "{wrong}".'
    if kind == "past":
        wrong = rng.choice([f"{key}ing", f"{key}s", key])
        return question, right, f'The past tense of "{key}" is "{wrong}".'
    if kind == "plural":
        s, p = key
        # What a rule of thumb gets wrong ("childs", "citys"), the singular, or one "s" too many.
        wrong = rng.choice(sorted({s + "s", s + "es", s, p + "s"} - {p}))
        return question, right, f'The plural of "{s}" is "{wrong}".'
    return question, right, f"{ONES[min(key)].capitalize()} is bigger."


def line(kind, q, rng):
    question, right, wrong = pair(kind, q, rng)
    # Rejected: the right answer padded with filler, or (a third of the pairs) a wrong answer
    # said as directly as the chosen one, so that the direct style is not learned at the
    # cost of right answers.
    wrong = wrong if rng.random() < WRONG_SHARE else demo.padded(right, rng)
    prompt = [{"role": "user", "content": question}]
    if rng.random() < 0.3:
        prompt.insert(0, {"role": "system", "content": SYSTEM})
    return json.dumps({"prompt": prompt, "chosen": [{"role": "assistant", "content": right}],
                       "rejected": [{"role": "assistant", "content": wrong}]})


def main():
    rng = random.Random(20261207)
    kept_out = demo.held_out()
    train, held_out = [], []
    for kind in demo.KINDS:
        held_out += [line(kind, key, rng) for key in kept_out[kind]]
        # Distinct lines from the other questions; a question may come back with another
        # rejected reply or with the system message.
        keys = [k for k in demo.questions(kind) if k not in kept_out[kind]]
        lines = set()
        while len(lines) < TRAIN_PER_KIND:
            lines.add(line(kind, rng.choice(keys), rng))
        train += sorted(lines)
    rng.shuffle(train)
    rng.shuffle(held_out)
    with open(demo.ROOT / "data/demo/dpo-train.jsonl", "w") as f:
        f.write("\n".join(train) + "\n")
    with open(demo.ROOT / "data/demo/dpo-eval.jsonl", "w") as f:
        f.write("\n".join(held_out) + "\n")


if __name__ == "__main__":
    main()
