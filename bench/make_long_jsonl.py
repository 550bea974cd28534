#!/usr/bin/env python3
# Long training examples for the memory benchmarks of zili sft (docs/perf.md): consecutive lines
# of a text file joined into {"text": ...} JSONL lines of at least --chars characters each
# (2500 characters: ~1400 tokens with a 512-piece tokenizer, so every example fills --max-length 1024).
#
#   python3 bench/make_long_jsonl.py data/tokenizer-corpus.txt --out long.jsonl
import argparse
import json


def main():
    parser = argparse.ArgumentParser(description="Join text lines into long {\"text\": ...} examples")
    parser.add_argument("text", help="a text file, one sentence a line")
    parser.add_argument("--out", required=True, help="the JSONL file to write")
    parser.add_argument("--chars", type=int, default=2500, help="least characters per example")
    parser.add_argument("--examples", type=int, default=32, help="examples to write")
    args = parser.parse_args()
    with open(args.text, encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip()]
    examples, current = [], []
    for line in lines:
        current.append(line)
        if sum(len(s) + 1 for s in current) >= args.chars:
            examples.append(" ".join(current))
            current = []
            if len(examples) == args.examples:
                break
    with open(args.out, "w", encoding="utf-8") as f:
        for text in examples:
            f.write(json.dumps({"text": text}) + "\n")
    print(f"{args.out}: {len(examples)} examples of >= {args.chars} characters")


if __name__ == "__main__":
    main()
