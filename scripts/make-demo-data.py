#!/usr/bin/env python3
"""Writes the bundled chat data of the demo and the tests, deterministically:
data/demo/sft-train.jsonl (messages layout, 320 lines) and data/demo/sft-eval.jsonl (40
held-out lines). Small, regular tasks (arithmetic in words, opposites, past tenses,
plurals, comparisons) that a tiny model can learn in a few hundred steps, so a falling loss
is visible on a CPU. Like much real instruction data, the replies are of mixed quality: most
pad the answer with filler ("Well, let me think about that for a moment."), some answer
directly. The preference data (scripts/make-demo-prefs.py) prefers the direct answer: that
is what the demo's DPO stage teaches, a change a person sees in the generations. Run from
the repository root; the output is committed."""
import json
import random

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


def example(rng):
    kind = rng.randrange(5)
    if kind == 0:
        a, b = rng.randrange(11), rng.randrange(10)
        q, r = f"What is {ONES[a]} plus {ONES[b]}?", f"{ONES[a].capitalize()} plus {ONES[b]} is {ONES[a + b]}."
    elif kind == 1:
        w, o = rng.choice(OPPOSITES)
        if rng.random() < 0.5:
            w, o = o, w
        q, r = f'What is the opposite of "{w}"?', f'The opposite of "{w}" is "{o}".'
    elif kind == 2:
        v = rng.choice(VERBS)
        q, r = f'What is the past tense of "{v}"?', f'The past tense of "{v}" is "{v}ed".'
    elif kind == 3:
        s, p = rng.choice(NOUNS)
        q, r = f'What is the plural of "{s}"?', f'The plural of "{s}" is "{p}".'
    else:
        a, b = rng.sample(range(21), 2)
        big = ONES[max(a, b)]
        q, r = f"Which is bigger, {ONES[a]} or {ONES[b]}?", f"{big.capitalize()} is bigger."
    if rng.random() < PADDED_SHARE:
        r = padded(r, rng)
    messages = [{"role": "user", "content": q}, {"role": "assistant", "content": r}]
    if rng.random() < 0.3:
        messages.insert(0, {"role": "system", "content": SYSTEM})
    return {"messages": messages}


def main():
    rng = random.Random(20261129)
    # Distinct questions, so no held-out line was seen in training.
    lines, seen = [], set()
    while len(lines) < 360:
        e = example(rng)
        question = e["messages"][-2]["content"]
        if question not in seen:
            seen.add(question)
            lines.append(json.dumps(e))
    with open("data/demo/sft-train.jsonl", "w") as f:
        f.write("\n".join(lines[:320]) + "\n")
    with open("data/demo/sft-eval.jsonl", "w") as f:
        f.write("\n".join(lines[320:]) + "\n")


if __name__ == "__main__":
    main()
