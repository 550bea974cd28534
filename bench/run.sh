#!/usr/bin/env bash
# The benchmark: `zili dpo` against what a Python user runs today, TRL's DPOTrainer with a PEFT
# LoraConfig (bench/baseline/trl_dpo.py), on the same checkpoints and pairs on this machine's
# CPU, alternating; then zili alone at longer sequences, and the load and merge of a ~1B
# checkpoint (bench/compare_trl.py says what is measured and how). Builds first
# (scripts/build.sh). Prints the tables; they are kept in build/bench/table.md, with every
# measurement in build/bench/results.json. About 14 minutes on 2 cores; it is not a test.
#   bench/run.sh [--smoke] [--full] [--with-1b] [--threads N]
#     --smoke    the tiny preset and 2 timed steps a row, in about a minute: checks that the
#                bench and its baseline still run, and that both sides agree (scripts/test.sh)
#     --full     also medium at seq 256 and 1024 (about 9 minutes more)
#     --with-1b  also the side-by-side row of the ~1.1B shape at seq 256 (about 25 minutes more)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/env.sh"
"$root/scripts/build.sh" >&2
work="$root/build/bench"
for arg in "$@"; do
  if [ "$arg" = --smoke ]; then work="$root/build/bench-smoke"; fi
done
exec "$ZILI_VENV/bin/python" "$root/bench/compare_trl.py" --zili "$root/build/zili" \
  --zili-bench "$root/build/zili-bench" --work "$work" "$@"
