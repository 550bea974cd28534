#!/usr/bin/env bash
# Regenerates the demo's base model, data/demo/base/, with zili itself: a random `mini` Llama
# (3.4M parameters, a 1024-piece tokenizer trained on data/tokenizer-corpus.txt with the chatml
# markers as whole tokens), then full-weight training from scratch on data/demo/pretrain.jsonl
# (scripts/make-demo-corpus.py) with recipes/demo/base.toml. 6.5 minutes on 2 cores.
#   recipes/demo/make-base.sh [ZILI_BINARY]      (default: build/zili; run scripts/build.sh first)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
zili=${1:-$root/build/zili}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$zili" init --preset mini --train-tokenizer "$root/data/tokenizer-corpus.txt" --vocab-size 1024 \
  --chat-template chatml --dtype bf16 --seed 1 --out "$work/random"
"$zili" sft --config "$root/recipes/demo/base.toml" --model "$work/random" \
  --data "$root/data/demo/pretrain.jsonl" --out "$work/run"
# The run's model/ is the checkpoint (bf16, as the random one was stored); the run folder's
# settings and metrics are kept next to it, so the base says how it was made.
rm -rf "$root/data/demo/base.new"
cp -r "$work/run/model" "$root/data/demo/base.new"
# Its paths made relative to the repository (RANDOM_MINI: the `zili init` output above).
settings=$(<"$work/run/config.toml")
settings=${settings//"$work/random"/RANDOM_MINI}
printf '%s\n' "${settings//"$root/"/}" >"$root/data/demo/base.new/training-config.toml"
cp "$work/run/metrics.jsonl" "$root/data/demo/base.new/training-metrics.jsonl"
rm -rf "$root/data/demo/base"
mv "$root/data/demo/base.new" "$root/data/demo/base"
echo "wrote $root/data/demo/base"
