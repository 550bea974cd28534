#!/usr/bin/env bash
# The demo's pieces, a few steps each (scripts/demo.sh runs them in full, for minutes): the
# carried base model, its three recipes, merge, eval on the held-out pairs, generate --chat and
# plot as the demo calls them; and the bundled data equals what its generators write.
source "$(dirname "$0")/lib.sh"
DEMO=$SOURCE_DIR/data/demo
RECIPES=$SOURCE_DIR/recipes/demo

run_ok "inspect the carried base" "$ZILI" inspect "$DEMO/base"
grep -qE "layers +4" out.txt && grep -qE "vocabulary +1024" out.txt \
  && pass "the base is the mini preset with a 1024-piece vocabulary" || failed "inspect base: $(cat out.txt)"

run_ok "base.toml continues the base for two steps" "$ZILI" sft --config "$RECIPES/base.toml" \
  --model "$DEMO/base" --data "$DEMO/pretrain.jsonl" --out base-run --max-steps 2
grep -qF "training 3426560 parameters (full)" err.txt && pass "base.toml trains every weight" \
  || failed "base.toml log: $(cat err.txt)"
run_ok "sft.toml for three steps" "$ZILI" sft --config "$RECIPES/sft.toml" --model "$DEMO/base" \
  --data "$DEMO/sft-train.jsonl" --eval-data "$DEMO/sft-eval.jsonl" --out sft --max-steps 3
grep -qF "chat template: chatml (recognised in" err.txt && pass "sft finds the base's template" \
  || failed "sft log: $(cat err.txt)"
run_ok "dpo.toml from the SFT adapter for two steps" "$ZILI" dpo --config "$RECIPES/dpo.toml" \
  --model "$DEMO/base" --init-adapter sft/adapter --data "$DEMO/dpo-train.jsonl" \
  --eval-data "$DEMO/dpo-eval.jsonl" --out dpo --max-steps 2
grep -q '"eval_rewards/accuracies"' dpo/metrics.jsonl && pass "dpo evaluated the held-out pairs" \
  || failed "dpo metrics: $(cat dpo/metrics.jsonl)"
run_ok "merge the DPO adapter" "$ZILI" merge --model "$DEMO/base" --adapter dpo/adapter --out merged
run_ok "eval the merged model on the held-out pairs" "$ZILI" eval --model merged \
  --data "$DEMO/dpo-eval.jsonl" --out pairs.jsonl
grep -q '^overall: .*"pairs":40.*"prefers_chosen":' out.txt && pass "eval summary has prefers_chosen" \
  || failed "eval summary: $(cat out.txt)"
run_ok "generate --chat on the merged model" "$ZILI" generate --model merged --chat \
  --prompt 'What is the plural of "wolf"?' --max-new-tokens 16
run_ok "plot both runs into one SVG" "$ZILI" plot sft dpo --out curves.svg
grep -q "<svg" curves.svg && pass "curves.svg is an SVG" || failed "curves.svg: $(head -c 200 curves.svg)"

# The committed data is its generators' output (they write under data/demo/ of the folder
# they run in).
mkdir -p gen/scripts gen/data/demo
cp "$SOURCE_DIR"/scripts/make-demo-*.py gen/scripts/ && cp "$SOURCE_DIR/data/tokenizer-corpus.txt" gen/data/
(cd gen && python3 scripts/make-demo-data.py && python3 scripts/make-demo-prefs.py &&
  python3 scripts/make-demo-corpus.py)
for f in sft-train sft-eval dpo-train dpo-eval pretrain; do
  cmp -s "gen/data/demo/$f.jsonl" "$DEMO/$f.jsonl" && pass "data/demo/$f.jsonl is its generator's output" \
    || failed "data/demo/$f.jsonl differs from what its generator writes"
done
finish
