#!/usr/bin/env bash
# `zili dpo` as a user drives it: on a learnable synthetic preference the held-out reward
# accuracy goes from chance to at least 0.9; every loss runs; --init-adapter makes the SFT
# adapter the reference (rewards 0 at the first step); --precompute-ref changes nothing;
# kill -9 then --resume ends bit-identical; bad pairs stop before training with one line.
source "$(dirname "$0")/lib.sh"

"$ZILI" init --preset tiny --train-tokenizer "$CORPUS" --vocab-size 512 --out base >/dev/null 2>&1 \
  || { echo "FAILED: could not make the test model"; exit 1; }
RECIPE=$SOURCE_DIR/recipes/tiny.toml
holds() { awk "BEGIN { exit !($1) }"; }
# The value of KEY in the metrics line of step N (a training line, or with "eval" the eval line).
metric_at() { grep "\"step\":$2[,}]" "$1/metrics.jsonl" | grep "${4:-}" | grep -o "\"$3\":[-0-9.e]*" | head -1 | cut -d: -f2; }

# A learnable preference: to any prompt (a corpus line), the chosen reply is polite, the
# rejected one curt. Held-out prompts are other lines.
json_line() { sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$1"; }
make_pairs() {  # FIRST LAST
  sed -n "$1,$2p" "$CORPUS" | while IFS= read -r line; do
    printf '{"prompt": "%s", "chosen": " Yes, gladly; thank you for asking.", "rejected": " No."}\n' \
      "$(json_line "$line")"
  done
}
make_pairs 1 160 >prefs.jsonl
make_pairs 1001 1040 >prefs-eval.jsonl
# A first base that knows some text (as in test_sft.sh), and an SFT adapter on it.
head -1500 "$CORPUS" | sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/{"text": "&"}/' >corpus.jsonl
"$ZILI" sft --config "$RECIPE" --model base --data corpus.jsonl --out pre --full --lr 3e-3 \
  --max-steps 60 --batch-size 16 --save-every 0 >/dev/null 2>&1 || failed "pretraining the base"
"$ZILI" sft --config "$RECIPE" --model pre/model --data "$SOURCE_DIR/data/demo/sft-train.jsonl" \
  --out sft --max-steps 20 --save-every 0 >/dev/null 2>&1 || failed "the SFT adapter"

common=(--config "$RECIPE" --model pre/model --data prefs.jsonl --eval-data prefs-eval.jsonl
  --lr 1e-2 --max-steps 30 --eval-every 30 --log-every 1 --save-every 10)

# --- the learnable task ---------------------------------------------------------------------
run_ok "dpo learns the preference" "$ZILI" dpo "${common[@]}" --out learn --eval-every 0
acc=$(metric_at learn 30 eval_rewards/accuracies eval)
holds "$acc >= 0.9" && pass "held-out reward accuracy $acc >= 0.9" \
  || failed "held-out reward accuracy $acc < 0.9: $(grep eval learn/metrics.jsonl)"
for key in loss rewards/chosen rewards/rejected rewards/accuracies rewards/margins logps/chosen \
  logps/rejected logits/chosen logits/rejected grad_norm lr tokens_per_second peak_rss_mib; do
  grep -q "\"$key\"" learn/metrics.jsonl || failed "metrics lack $key"
done
pass "metrics carry TRL's names"
for f in adapter/adapter_model.safetensors checkpoints/step-30/optimizer.safetensors config.toml; do
  [ -f "learn/$f" ] && pass "RUN has $f" || failed "RUN lacks $f"
done
# At step 1 the policy is the reference: every reward is 0 and the loss log 2.
holds "$(metric_at learn 1 rewards/margins) == 0 && $(metric_at learn 1 loss) > 0.693147 && $(metric_at learn 1 loss) < 0.693148" \
  && pass "first step: policy = reference, margin 0, loss log 2" \
  || failed "first step: $(grep '"step":1,' learn/metrics.jsonl)"

# zili eval on the preference file gives the same numbers as the run's last evaluation.
"$ZILI" eval --model pre/model --adapter learn/adapter --data prefs-eval.jsonl --out pairs.jsonl \
  >eval.txt 2>/dev/null
summary=$(tail -1 eval.txt)
eval_acc=$(grep -o '"rewards/accuracies":[-0-9.e]*' <<<"$summary" | cut -d: -f2)
expect_equal "eval on pairs: the run's held-out accuracy" "$eval_acc" "$acc"
expect_equal "eval --out: one record per pair" "$(wc -l <pairs.jsonl)" "40"
"$ZILI" eval --model pre/model --data prefs-eval.jsonl 2>/dev/null | tail -1 >eval-base.txt
grep -q '"rewards/margins":0.0' eval-base.txt && pass "eval without an adapter: policy = reference" \
  || failed "eval without adapter: $(cat eval-base.txt)"

# --- --init-adapter: the SFT adapter is the reference, not the bare base --------------------
run_ok "dpo --init-adapter" "$ZILI" dpo "${common[@]}" --max-steps 3 --out from-sft --init-adapter sft/adapter
holds "$(metric_at from-sft 1 rewards/chosen) == 0 && $(metric_at from-sft 1 rewards/rejected) == 0" \
  && pass "from the SFT adapter, step 1 rewards are 0 (reference = base + SFT adapter)" \
  || failed "--init-adapter reference: $(grep '"step":1,' from-sft/metrics.jsonl)"
grep -q '"r": 8' from-sft/adapter/adapter_config.json && pass "the adapter keeps the SFT adapter's config" \
  || failed "adapter config: $(cat from-sft/adapter/adapter_config.json)"

# --- --precompute-ref gives the same run -------------------------------------------------------
run_ok "without --precompute-ref" "$ZILI" dpo "${common[@]}" --max-steps 6 --out lazy --init-adapter sft/adapter
run_ok "with --precompute-ref" "$ZILI" dpo "${common[@]}" --max-steps 6 --out eager --init-adapter sft/adapter --precompute-ref
[ -f eager/reference_logps.safetensors ] && pass "reference log-probs stored in the run" \
  || failed "no reference_logps.safetensors"
cmp -s lazy/adapter/adapter_model.safetensors eager/adapter/adapter_model.safetensors \
  && pass "--precompute-ref: the same adapter, bit for bit" || failed "--precompute-ref changed the result"
run_ok "--ref-logps reuses them" "$ZILI" dpo "${common[@]}" --max-steps 6 --out reuse \
  --init-adapter sft/adapter --ref-logps eager/reference_logps.safetensors
grep -q "read from" err.txt && pass "reused: $(grep -o 'reference log-probs.*' err.txt)" \
  || failed "--ref-logps did not reuse: $(cat err.txt)"
cmp -s lazy/adapter/adapter_model.safetensors reuse/adapter/adapter_model.safetensors \
  && pass "--ref-logps: the same adapter" || failed "--ref-logps changed the result"

# --- every loss runs ---------------------------------------------------------------------------
for loss in sigmoid ipo hinge robust bco_pair sppo_hard nca_pair apo_zero apo_down exo_pair simpo orpo; do
  extra=()
  [ "$loss" = exo_pair ] && extra=(--label-smoothing 0.001)
  [ "$loss" = robust ] && extra=(--label-smoothing 0.1)
  run_ok "--loss $loss runs" "$ZILI" dpo "${common[@]}" --max-steps 3 --eval-every 0 \
    --out "loss-$loss" --loss "$loss" "${extra[@]}"
done
grep -q "computing the reference" loss-simpo.err 2>/dev/null && failed "simpo computed a reference" \
  || pass "reference-free losses skip the reference"
run_ok "--sft-weight (RPO)" "$ZILI" dpo "${common[@]}" --max-steps 3 --out rpo --sft-weight 1

# --- kill -9, then --resume: bit-identical -----------------------------------------------------
resume_args=("${common[@]}" --max-steps 120 --save-every 3 --eval-every 0 --log-every 5
  --init-adapter sft/adapter)
run_ok "uninterrupted dpo" "$ZILI" dpo "${resume_args[@]}" --out straight
"$ZILI" dpo "${resume_args[@]}" --out killed >killed.log 2>&1 &
pid=$!
kill_at=$((3 * (RANDOM % 10 + 2)))
for _ in $(seq 600); do
  last=$(ls killed/checkpoints 2>/dev/null | grep -E '^step-[0-9]+$' | sed 's/step-//' | sort -n | tail -1)
  [ -n "$last" ] && [ "$last" -ge "$kill_at" ] && break
  sleep 0.1
done
sleep "0.0$((RANDOM % 10))"
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
[ -e killed/adapter ] && failed "dpo finished before kill -9 (step $kill_at)" \
  || pass "dpo killed with -9 after step $kill_at"
run_ok "dpo --resume after kill -9" "$ZILI" dpo --resume killed
cmp -s straight/adapter/adapter_model.safetensors killed/adapter/adapter_model.safetensors \
  && pass "killed + resumed DPO adapter is bit-identical" || failed "resumed DPO adapter differs"
expect_equal "resumed metrics equal the uninterrupted ones" \
  "$(grep -o '"rewards/margins":[-0-9.e]*' killed/metrics.jsonl | tr '\n' ' ')" \
  "$(grep -o '"rewards/margins":[-0-9.e]*' straight/metrics.jsonl | tr '\n' ' ')"

# --- mistakes: one line each, nothing written ---------------------------------------------------
printf '{"prompt": "Hi", "chosen": " Hello.", "rejected": " Bye."}\n{"prompt": "Hi", "chosen": " Same.", "rejected": " Same."}\n' >same.jsonl
expect_error "chosen = rejected" "same.jsonl:2:" "$ZILI" dpo "${common[@]}" --data same.jsonl --out bad
expect_error "SFT data given to dpo" "an SFT layout" "$ZILI" dpo "${common[@]}" \
  --data "$SOURCE_DIR/data/demo/sft-train.jsonl" --out bad
expect_error "unknown loss" '"kto"' "$ZILI" dpo "${common[@]}" --loss kto --out bad
expect_error "beta <= 0" "beta" "$ZILI" dpo "${common[@]}" --beta 0 --out bad
expect_error "--beta with orpo" "--orpo-lambda" "$ZILI" dpo "${common[@]}" --loss orpo --beta 0.5 --out bad
expect_error "missing --init-adapter" "nowhere" "$ZILI" dpo "${common[@]}" --init-adapter nowhere --out bad
expect_error "resume with another --loss" "keeps its settings" "$ZILI" dpo --resume learn --loss ipo
[ -e bad ] && failed "a failed dpo left bad/" || pass "no output after the failed runs"
finish
