#!/usr/bin/env python3
"""Writes the pretraining text of the demo's base model, deterministically:
data/demo/pretrain.jsonl, {"text": ...} lines that `zili sft --full` trains on (see
recipes/demo/base.toml). What a base model knows before any chat tuning:
- the facts the demo's questions ask about (scripts/make-demo-data.py: sums, opposites, past
  tenses, plurals, which number is bigger), each said several ways, and asked and answered as
  "Question: ...\\nAnswer: ..." as web text does (never in a chat template: that is what
  the SFT stage teaches);
- the sentences of data/tokenizer-corpus.txt, for the rest of the language.
Lines are shuffled and joined into documents of a few lines each. The base thus knows every
fact the demo asks about, held-out questions included, as a pretrained model would: what
the demo's SFT and DPO stages add is the chat format and the style of the replies. Writes
under the repository this script is in; the output is committed."""
import importlib.util
import json
import random
from pathlib import Path

_spec = importlib.util.spec_from_file_location("demo_data",
                                               Path(__file__).with_name("make-demo-data.py"))
demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)
ONES, OPPOSITES, VERBS, NOUNS = demo.ONES, demo.OPPOSITES, demo.VERBS, demo.NOUNS
LINES_PER_DOCUMENT = 6


def qa(question, answer):
    return f"Question: {question}\nAnswer: {answer}"


def facts():
    """Every fact of the demo's five kinds, in statements and question-answer pairs."""
    out = []
    for a in range(11):
        for b in range(10):
            A, B, C = ONES[a], ONES[b], ONES[a + b]
            said = f"{A.capitalize()} plus {B} is {C}."
            out += [said, f"If you add {A} and {B}, you get {C}.",
                    qa(f"What is {A} plus {B}?", said)]
    for x, y in OPPOSITES:
        for w, o in ((x, y), (y, x)):
            said = f'The opposite of "{w}" is "{o}".'
            out += [said, qa(f'What is the opposite of "{w}"?', said)]
        out.append(f'"{x}" and "{y}" are opposites.')
    for v in VERBS:
        said = f'The past tense of "{v}" is "{v}ed".'
        out += [said, f"Today I {v}; yesterday I {v}ed.",
                qa(f'What is the past tense of "{v}"?', said)]
    for s, p in NOUNS:
        said = f'The plural of "{s}" is "{p}".'
        out += [said, f"One {s}, two {p}.", qa(f'What is the plural of "{s}"?', said)]
    for a in range(21):
        for b in range(21):
            if a == b:
                continue
            big, small = ONES[max(a, b)], ONES[min(a, b)]
            out += [f"{big.capitalize()} is bigger than {small}.",
                    qa(f"Which is bigger, {ONES[a]} or {ONES[b]}?",
                       f"{big.capitalize()} is bigger.")]
    return out


def main():
    rng = random.Random(20261130)
    with open(demo.ROOT / "data/tokenizer-corpus.txt") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    lines += facts()
    rng.shuffle(lines)
    documents = ["\n".join(lines[i:i + LINES_PER_DOCUMENT])
                 for i in range(0, len(lines), LINES_PER_DOCUMENT)]
    with open(demo.ROOT / "data/demo/pretrain.jsonl", "w") as f:
        f.write("\n".join(json.dumps({"text": d}) for d in documents) + "\n")


if __name__ == "__main__":
    main()
