#!/usr/bin/env python3
"""Writes the bundled chat data of the demo and the tests, deterministically:
data/demo/sft-train.jsonl (messages layout, 320 lines) and data/demo/sft-eval.jsonl (40
held-out lines). Small, regular tasks (arithmetic in words, opposites, past tenses,
plurals, comparisons) that a tiny model can learn in a few hundred steps, so a falling loss
is visible on a CPU. Like much real instruction data, the replies are of mixed quality: most
pad the answer with filler ("Well, let me think about that for a moment."), some answer
directly. The preference data (scripts/make-demo-prefs.py) prefers the direct answer: that
is what the demo's DPO stage teaches, a change a person sees in the generations.
The demo's before/after questions (held_out(), 40 of them) are asked by no line here and by
no DPO training line. Writes under the repository this script is in; the output is
committed."""
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen", "twenty"]
OPPOSITES = [("hot", "cold"), ("big", "small"), ("fast", "slow"), ("heavy", "light"),
             ("early", "late"), ("happy", "sad"), ("open", "closed"), ("high", "low"),
             ("wet", "dry"), ("full", "empty"), ("old", "young"), ("loud", "quiet"),
             ("hard", "soft"), ("long", "short"), ("dark", "bright"), ("rich", "poor")]
VERBS = ["walk", "jump", "paint", "call", "cook", "clean", "visit", "open", "play", "watch",
         "help", "ask", "climb", "kick", "laugh", "listen", "pull", "push", "start", "wash"]
NOUNS = [("cat", "cats"), ("box", "boxes"), ("city", "cities"), ("child", "children"),
         ("mouse", "mice"), ("leaf", "leaves"), ("bus", "buses"), ("tooth", "teeth"),
         ("story", "stories"), ("wolf", "wolves"), ("dish", "dishes"), ("foot", "feet"),
         ("baby", "babies"), ("knife", "knives"), ("glass", "glasses"), ("man", "men")]
SYSTEM = "You are a helpful assistant. Answer in one short sentence."
# What a padded reply says before and (sometimes) after the answer. The first preamble is the
# most common one, so that greedy decoding of a model trained on these picks it.
PREAMBLES = ["Well, let me think about that for a moment.",
             "That is a very good question, and I am happy to answer it.",
             "Hmm, let me see."]
CLOSERS = ["I hope that helps!", "Let me know if you have any other questions."]
PADDED_SHARE = 0.7


def padded(answer, rng):
    """The answer with a preamble before it and, half the time, a closer after it."""
    preamble = PREAMBLES[0] if rng.random() < 0.6 else rng.choice(PREAMBLES[1:])
    reply = f"{preamble} {answer}"
    return f"{reply} {rng.choice(CLOSERS)}" if rng.random() < 0.5 else reply


KINDS = ["sum", "opposite", "past", "plural", "bigger"]
HELD_OUT_PER_KIND = {"sum": 10, "opposite": 8, "past": 6, "plural": 6, "bigger": 10}


def questions(kind):
    """Every question of a kind, each as the key that names it (bigger: the two numbers in
    increasing order, so "eight or ten" and "ten or eight" are one question)."""
    if kind == "sum":
        return [(a, b) for a in range(11) for b in range(10)]
    if kind == "opposite":
        return [w for p in OPPOSITES for w in p]
    if kind == "past":
        return list(VERBS)
    if kind == "plural":
        return list(NOUNS)
    return [(a, b) for a in range(21) for b in range(a + 1, 21)]


def held_out():
    """kind -> the keys of the questions kept out of all training data: the demo's
    before/after (data/demo/dpo-eval.jsonl) asks exactly these."""
    rng = random.Random(20261201)
    out = {}
    for kind in KINDS:
        keys = questions(kind)
        rng.shuffle(keys)
        out[kind] = keys[:HELD_OUT_PER_KIND[kind]]
    return out


def question_and_answer(kind, key, rng):
    """(question, the right answer said directly) for a question of a kind."""
    if kind == "sum":
        a, b = key
        return (f"What is {ONES[a]} plus {ONES[b]}?",
                f"{ONES[a].capitalize()} plus {ONES[b]} is {ONES[a + b]}.")
    if kind == "opposite":
        o = next(y if x == key else x for x, y in OPPOSITES if key in (x, y))
        return f'What is the opposite of "{key}"?', f'The opposite of "{key}" is "{o}".'
    if kind == "past":
        return f'What is the past tense of "{key}"?', f'The past tense of "{key}" is "{key}ed".'
    if kind == "plural":
        s, p = key
        return f'What is the plural of "{s}"?', f'The plural of "{s}" is "{p}".'
    a, b = key if rng.random() < 0.5 else key[::-1]
    return f"Which is bigger, {ONES[a]} or {ONES[b]}?", f"{ONES[max(a, b)].capitalize()} is bigger."


def example(rng, kept_out):
    kind = rng.choice(KINDS)
    key = rng.choice([k for k in questions(kind) if k not in kept_out[kind]])
    q, r = question_and_answer(kind, key, rng)
    if rng.random() < PADDED_SHARE:
        r = padded(r, rng)
    messages = [{"role": "user", "content": q}, {"role": "assistant", "content": r}]
    if rng.random() < 0.3:
        messages.insert(0, {"role": "system", "content": SYSTEM})
    return {"messages": messages}


def main():
    rng = random.Random(20261129)
    kept_out = held_out()
    # Distinct questions, so no sft-eval line was seen in training.
    lines, seen = [], set()
    while len(lines) < 360:
        e = example(rng, kept_out)
        question = e["messages"][-2]["content"]
        if question not in seen:
            seen.add(question)
            lines.append(json.dumps(e))
    with open(ROOT / "data/demo/sft-train.jsonl", "w") as f:
        f.write("\n".join(lines[:320]) + "\n")
    with open(ROOT / "data/demo/sft-eval.jsonl", "w") as f:
        f.write("\n".join(lines[320:]) + "\n")


if __name__ == "__main__":
    main()
