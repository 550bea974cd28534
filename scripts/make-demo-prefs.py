#!/usr/bin/env python3
"""Writes the bundled preference data of the DPO demo and tests, deterministically:
data/demo/dpo-train.jsonl (300 lines) and data/demo/dpo-eval.jsonl (40 held-out lines whose
questions none of the training lines asks), in TRL's conversational layout
{"prompt": [messages], "chosen": [assistant], "rejected": [assistant]}. The questions are
the five kinds of data/demo/sft-train.jsonl (scripts/make-demo-data.py), in equal shares.
The chosen reply is the right answer, said directly. The rejected one pads the right answer
with filler as most of the SFT replies do ("Hmm, let me see. ... I hope that helps!"), or, in
a third of the pairs, says a wrong answer just as directly, with a mistake a person sees at
once (a wrong sum, a wrong opposite, a wrong past tense or plural, the smaller number). The kinds with few
questions repeat a question with another rejected reply.
Run from the repository root; the output is committed."""
import importlib.util
import json
import random

_spec = importlib.util.spec_from_file_location("demo_data", "scripts/make-demo-data.py")
demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)
ONES, OPPOSITES, VERBS, NOUNS = demo.ONES, demo.OPPOSITES, demo.VERBS, demo.NOUNS
SYSTEM = demo.SYSTEM
WRONG_SHARE = 1 / 3

TRAIN_PER_KIND = 60
EVAL_PER_KIND = {"sum": 10, "opposite": 8, "past": 6, "plural": 6, "bigger": 10}


def questions(kind):
    """Every question of a kind, as the arguments pair() takes."""
    if kind == "sum":
        return [(a, b) for a in range(11) for b in range(10)]
    if kind == "opposite":
        return [w for p in OPPOSITES for w in p]
    if kind == "past":
        return list(VERBS)
    if kind == "plural":
        return list(NOUNS)
    # Unordered: a held-out "eight or ten" is not seen in training as "ten or eight" either.
    return [(a, b) for a in range(21) for b in range(a + 1, 21)]


def pair(kind, q, rng):
    """(question, right answer, wrong answer) for question q of a kind."""
    if kind == "sum":
        a, b = q
        wrong = rng.choice([s for s in range(21) if s != a + b and abs(s - (a + b)) <= 3])
        said = f"{ONES[a].capitalize()} plus {ONES[b]} is"
        return (f"What is {ONES[a]} plus {ONES[b]}?", f"{said} {ONES[a + b]}.",
                f"{said} {ONES[wrong]}.")
    if kind == "opposite":
        w = q
        o = next(y if x == w else x for x, y in OPPOSITES if w in (x, y))
        # The word itself, or a word of another pair: neither is its opposite.
        others = [x for p in OPPOSITES for x in p if x not in (w, o)]
        wrong = w if rng.random() < 0.2 else rng.choice(others)
        said = f'The opposite of "{w}" is'
        return f'What is the opposite of "{w}"?', f'{said} "{o}".', f'{said} "{wrong}".'
    if kind == "past":
        v = q
        wrong = rng.choice([f"{v}ing", f"{v}s", v])
        said = f'The past tense of "{v}" is'
        return f'What is the past tense of "{v}"?', f'{said} "{v}ed".', f'{said} "{wrong}".'
    if kind == "plural":
        s, p = q
        # What a rule of thumb gets wrong ("childs", "citys"), the singular, or one "s" too many.
        wrong = rng.choice(sorted({s + "s", s + "es", s, p + "s"} - {p}))
        said = f'The plural of "{s}" is'
        return f'What is the plural of "{s}"?', f'{said} "{p}".', f'{said} "{wrong}".'
    a, b = q if rng.random() < 0.5 else q[::-1]
    big, small = ONES[max(a, b)], ONES[min(a, b)]
    return (f"Which is bigger, {ONES[a]} or {ONES[b]}?", f"{big.capitalize()} is bigger.",
            f"{small.capitalize()} is bigger.")


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
    train, held_out = [], []
    for kind, eval_count in EVAL_PER_KIND.items():
        qs = questions(kind)
        rng.shuffle(qs)
        held_out += [line(kind, q, rng) for q in qs[:eval_count]]
        # Distinct lines from the other questions; a question may come back with another
        # mistake or with the system message.
        lines = set()
        while len(lines) < TRAIN_PER_KIND:
            lines.add(line(kind, rng.choice(qs[eval_count:]), rng))
        train += sorted(lines)
    rng.shuffle(train)
    rng.shuffle(held_out)
    with open("data/demo/dpo-train.jsonl", "w") as f:
        f.write("\n".join(train) + "\n")
    with open("data/demo/dpo-eval.jsonl", "w") as f:
        f.write("\n".join(held_out) + "\n")


if __name__ == "__main__":
    main()
