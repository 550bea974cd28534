#!/usr/bin/env bash
# The README's first command: set up and build (scripts/build.sh), then run zili's main job
# on the bundled default. Until DPO lands that job is: make a tiny model (with a tokenizer
# trained on data/tokenizer-corpus.txt), show it, generate from it and evaluate it.
#   scripts/demo.sh [OUTPUT_FOLDER]      (default: build/demo)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh"
zili="$root/build/zili"
out=${1:-$root/build/demo}
mkdir -p "$out"

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "A small random Llama checkpoint, with a BPE tokenizer trained on the bundled corpus" \
  "$zili" init --preset small --train-tokenizer "$root/data/tokenizer-corpus.txt" --vocab-size 2000 \
  --out "$out/small" --seed 1 --force
step "What it holds" "$zili" inspect "$out/small"
step "Sampled generation (random weights: expect word salad)" \
  "$zili" generate --model "$out/small" --prompt "The red fox" --max-new-tokens 24 --temperature 0.9 --top-p 0.95 --seed 7
step "Log-likelihood and perplexity of held-out lines (an untrained model: about the vocabulary size)" \
  "$zili" eval --model "$out/small" --data "$root/data/demo/eval.jsonl" --out "$out/eval.jsonl"
printf '\nDemo outputs are in %s\n' "$out"
