#!/usr/bin/env python3
# The inputs of bench/run.sh, made in their own process so that the driver stays small (a
# child's peak RSS starts at its parent's): the checkpoints and the preference pairs.
#
#   python make_bench_inputs.py checkpoint --zili build/zili --tokenizer TOK --preset small --out DIR
#       transformers' save_pretrained of a LlamaForCausalLM in the preset's shape (read from the
#       config.json `zili init --preset` writes) with Llama's 32000-row vocabulary, random
#       weights (seed 0), fp32, and TOK's tokenizer files.
#   python make_bench_inputs.py pairs --model DIR --seq T --count N --out pairs.jsonl
#       N copies of one pair (the two sides shuffle the pairs differently, so only then is their
#       first batch the same; the work a step does does not depend on the tokens), whose rows
#       are exactly T tokens as TRL counts them: the prompt's own ids (BOS
#       first) T/2, the ids of prompt + completion after them plus EOS T - T/2. The texts are
#       runs of corpus words, padded with " a" (one piece of the tokenizer `zili init` trains
#       on the corpus); the prompt ends at a word and each completion starts with a space, where
#       TRL's and zili's ids are the same (tests/peer/test_dpo_trainer_parity.py).
import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "data" / "tokenizer-corpus.txt"
TOKENIZER_FILES = ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")
VOCAB = 32000  # Llama 1/2's, as zili-bench's shapes have it
FILLER = " a"


def make_checkpoint(zili, tokenizer, preset, folder):
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    shape = folder.with_name(folder.name + "-shape")
    for path in (folder, shape):
        shutil.rmtree(path, ignore_errors=True)
    result = subprocess.run([str(zili), "init", "--preset", preset, "--tokenizer",
                             str(tokenizer / "tokenizer.model"), "--out", str(shape)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"make_bench_inputs.py: zili init failed: {result.stderr}")
    config = LlamaConfig.from_pretrained(shape)
    shutil.rmtree(shape)
    config.vocab_size = VOCAB
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config, dtype=torch.float32).save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(tokenizer / name, folder / name)


class PairMaker:
    def __init__(self, model_dir):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.words = CORPUS.read_text().split()
        self.cursor = 0

    def count(self, text):
        return len(self.tokenizer(text)["input_ids"])

    def take(self, wanted, length_of):
        """The longest run of corpus words from the cursor whose length_of is at most wanted,
        then fillers up to exactly wanted."""
        words = []
        while True:
            word = self.words[self.cursor % len(self.words)]
            if length_of(" ".join(words + [word])) > wanted:
                break
            words.append(word)
            self.cursor += 1
        text = " ".join(words)
        while length_of(text) < wanted:
            text += FILLER
        if length_of(text) != wanted:
            sys.exit(f"make_bench_inputs.py: cannot make a text of exactly {wanted} tokens")
        return text

    def pair(self, seq):
        prompt = self.take(seq // 2, self.count)
        prompt_tokens = self.count(prompt)

        def completion_tokens(text):  # after the prompt's ids, EOS included
            return self.count(prompt + " " + text) - prompt_tokens + 1

        chosen = self.take(seq - seq // 2, completion_tokens)
        rejected = self.take(seq - seq // 2, completion_tokens)
        return {"prompt": prompt, "chosen": " " + chosen, "rejected": " " + rejected}


def main():
    parser = argparse.ArgumentParser(description="bench/run.sh's checkpoints and pairs")
    sub = parser.add_subparsers(dest="command", required=True)
    checkpoint = sub.add_parser("checkpoint")
    checkpoint.add_argument("--zili", required=True, type=Path)
    checkpoint.add_argument("--tokenizer", required=True, type=Path)
    checkpoint.add_argument("--preset", required=True)
    checkpoint.add_argument("--out", required=True, type=Path)
    pairs = sub.add_parser("pairs")
    pairs.add_argument("--model", required=True, type=Path)
    pairs.add_argument("--seq", required=True, type=int)
    pairs.add_argument("--count", required=True, type=int)
    pairs.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    if args.command == "checkpoint":
        make_checkpoint(args.zili, args.tokenizer, args.preset, args.out)
    else:
        line = json.dumps(PairMaker(args.model).pair(args.seq)) + "\n"
        args.out.write_text(line * args.count)


if __name__ == "__main__":
    main()
