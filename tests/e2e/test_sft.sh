#!/usr/bin/env bash
# `zili sft` as a user drives it: a run writes RUN as documented and its loss falls; the
# adapter lowers the held-out loss in `zili eval`; kill -9 then --resume ends bit-identical
# to an uninterrupted run; SIGINT leaves a loadable checkpoint; config.toml repeats a run;
# recipes load; bad data and bad flags stop before training with one line.
source "$(dirname "$0")/lib.sh"

"$ZILI" init --preset tiny --train-tokenizer "$CORPUS" --vocab-size 512 --out base >/dev/null 2>&1 \
  || { echo "FAILED: could not make the test model"; exit 1; }
head -96 "$SOURCE_DIR/data/demo/sft-train.jsonl" >train.jsonl
EVAL=$SOURCE_DIR/data/demo/sft-eval.jsonl
RECIPE=$SOURCE_DIR/recipes/tiny.toml

# The "loss" of the metrics line of step N.
loss_at() { grep "\"step\":$2[,}]" "$1/metrics.jsonl" | grep -o '"loss":[-0-9.e]*' | cut -d: -f2; }
# awk as the calculator: exit 0 when the condition holds.
holds() { awk "BEGIN { exit !($1) }"; }

# --- full training on plain text: the loss falls clearly --------------------------------------
# The random tiny model's frozen lm_head caps what LoRA alone can learn, so it first learns
# some English with --full (as a pretrained base would know it), then LoRA fits the chat data.
head -2000 "$CORPUS" | sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/{"text": "&"}/' >corpus.jsonl
run_ok "sft --full on text" "$ZILI" sft --config "$RECIPE" --model base --data corpus.jsonl \
  --out pre --full --lr 3e-3 --max-steps 100 --batch-size 16 --save-every 0
first=$(loss_at pre 10); last=$(loss_at pre 100)
holds "$last < 0.8 * $first" && pass "--full: loss fell from $first to $last" \
  || failed "--full: loss did not fall clearly: step 10 $first, step 100 $last"
for f in config.json model.safetensors tokenizer.model tokenizer_config.json; do
  [ -f "pre/model/$f" ] && pass "--full wrote model/$f" || failed "--full lacks model/$f"
done

# --- a LoRA run, its folder, its loss --------------------------------------------------------
run_ok "sft with the tiny recipe" "$ZILI" sft --config "$RECIPE" --model pre/model \
  --data train.jsonl --eval-data "$EVAL" --out run1
for f in config.toml metrics.jsonl adapter/adapter_config.json adapter/adapter_model.safetensors \
  checkpoints/step-40/adapter_model.safetensors checkpoints/step-40/optimizer.safetensors \
  checkpoints/step-40/rng_state.safetensors checkpoints/step-40/trainer_state.json \
  checkpoints/step-60/trainer_state.json; do
  [ -f "run1/$f" ] && pass "RUN has $f" || failed "RUN lacks $f: $(find run1 | sort | tr '\n' ' ')"
done
[ ! -e run1/checkpoints/step-20 ] && pass "--keep-last 2 removed step-20" || failed "step-20 kept"
first=$(loss_at run1 10); last=$(loss_at run1 60)
holds "$last < 0.9 * $first" && pass "LoRA: loss fell from $first to $last" \
  || failed "LoRA: loss did not fall clearly: step 10 $first, step 60 $last"
grep -q '"eval_loss"' run1/metrics.jsonl && pass "metrics has the eval loss" || failed "no eval_loss"
grep -q '"peak_rss_mib"' run1/metrics.jsonl && grep -q '"tokens_per_second"' run1/metrics.jsonl \
  && grep -q '"grad_norm"' run1/metrics.jsonl && pass "metrics lines carry the documented fields" \
  || failed "metrics fields: $(head -1 run1/metrics.jsonl)"
grep -q '^lr=1e-2' run1/config.toml && grep -q '^lora-r=8' run1/config.toml \
  && pass "config.toml records the resolved settings" || failed "config.toml: $(cat run1/config.toml)"

# The adapter lowers the loss on held-out lines (completion tokens) against the base.
"$ZILI" eval --model pre/model --data "$EVAL" 2>/dev/null | tail -1 >eval-base.txt
"$ZILI" eval --model pre/model --adapter run1/adapter --data "$EVAL" 2>/dev/null | tail -1 >eval-tuned.txt
nll() { grep -o 'mean NLL [0-9.]*' "$1" | cut -d' ' -f3; }
holds "$(nll eval-tuned.txt) < $(nll eval-base.txt) - 0.5" \
  && pass "held-out NLL: base $(nll eval-base.txt), tuned $(nll eval-tuned.txt)" \
  || failed "held-out NLL did not fall: base '$(cat eval-base.txt)', tuned '$(cat eval-tuned.txt)'"

# config.toml repeats the run exactly.
run_ok "sft --config RUN/config.toml" "$ZILI" sft --config run1/config.toml --out run1-again
cmp -s run1/adapter/adapter_model.safetensors run1-again/adapter/adapter_model.safetensors \
  && pass "the repeated run gives the same adapter, bit for bit" || failed "repeated run differs"

# --- kill -9 at a random step, then --resume: bit-identical --------------------------------
resume_args=(--config "$RECIPE" --model pre/model --data train.jsonl --max-steps 150 --save-every 3
  --lora-dropout 0.1 --lr-schedule linear --keep-last 3)
run_ok "uninterrupted run" "$ZILI" sft "${resume_args[@]}" --out straight
wait_for_step() {  # RUN N: wait (up to 60 s) until a checkpoint at or past step N exists
  for _ in $(seq 600); do
    ls "$1/checkpoints" 2>/dev/null | grep -qE "^step-([0-9]+)$" &&
      [ "$(ls "$1/checkpoints" | grep -E '^step-[0-9]+$' | sed 's/step-//' | sort -n | tail -1)" -ge "$2" ] &&
      return 0
    sleep 0.1
  done
  return 1
}
kill_at=$((3 * (RANDOM % 14 + 2)))  # after checkpoint 6..45, then a random fraction of a step
"$ZILI" sft "${resume_args[@]}" --out killed >killed.log 2>&1 &
pid=$!
wait_for_step killed "$kill_at"
sleep "0.0$((RANDOM % 10))"
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ -e killed/adapter ]; then
  failed "the run finished before kill -9 (step $kill_at): the test proved nothing"
else
  pass "killed with -9 after step $kill_at ($(ls killed/checkpoints | tr '\n' ' '))"
fi
run_ok "--resume after kill -9" "$ZILI" sft --resume killed
grep -q "resuming" err.txt && pass "resume says where it starts: $(grep -o 'resuming.*' err.txt)" \
  || failed "resume did not report its checkpoint: $(cat err.txt)"
cmp -s straight/adapter/adapter_model.safetensors killed/adapter/adapter_model.safetensors \
  && pass "killed + resumed adapter is bit-identical to the uninterrupted one" \
  || failed "killed + resumed adapter differs from the uninterrupted one"
expect_equal "metrics.jsonl of the resumed run has the same steps" \
  "$(grep -o '"step":[0-9]*' killed/metrics.jsonl | tr '\n' ' ')" \
  "$(grep -o '"step":[0-9]*' straight/metrics.jsonl | tr '\n' ' ')"
expect_equal "losses of the resumed run are the uninterrupted ones" \
  "$(grep -o '"loss":[-0-9.e]*' killed/metrics.jsonl | tr '\n' ' ')" \
  "$(grep -o '"loss":[-0-9.e]*' straight/metrics.jsonl | tr '\n' ' ')"

# --- SIGINT: finish the step, checkpoint, say how to resume -------------------------------
"$ZILI" sft "${resume_args[@]}" --out interrupted >int.out 2>int.err &
pid=$!
wait_for_step interrupted 6
kill -INT "$pid"
wait "$pid"
code=$?
expect_equal "SIGINT exits with 130" "$code" "130"
grep -q "zili sft --resume interrupted" int.err && pass "SIGINT says how to resume" \
  || failed "SIGINT message: $(cat int.err)"
saved=$(grep -o 'checkpoint [^ ]* written' int.err | cut -d' ' -f2)
[ -n "$saved" ] && run_ok "the SIGINT checkpoint loads in eval" "$ZILI" eval --model base \
  --adapter "$saved" --data "$EVAL" || failed "no checkpoint named after SIGINT: $(cat int.err)"
run_ok "resume after SIGINT" "$ZILI" sft --resume interrupted
cmp -s straight/adapter/adapter_model.safetensors interrupted/adapter/adapter_model.safetensors \
  && pass "interrupted + resumed adapter is bit-identical" || failed "interrupted + resumed differs"
ls interrupted/checkpoints | grep -q tmp && failed "a staging folder was left behind" \
  || pass "no staging folder left in checkpoints/"

# --- other modes run --------------------------------------------------------------------
run_ok "--packing --grad-checkpoint --grad-accum" "$ZILI" sft --config "$RECIPE" --model base \
  --data train.jsonl --out packed --packing --grad-checkpoint --grad-accum 2 --max-steps 6 \
  --eval-fraction 0.1
grep -q "packed" err.txt && pass "packing reported in the log" || failed "no packing line: $(cat err.txt)"
run_ok "eval of the --full model" "$ZILI" eval --model pre/model --data "$EVAL"
run_ok "--dtype bf16 base" "$ZILI" sft --config "$RECIPE" --model pre/model --data train.jsonl \
  --out bf16 --dtype bf16 --max-steps 4
run_ok "another --seed" "$ZILI" sft --config "$RECIPE" --model pre/model --data train.jsonl \
  --out seed8 --seed 8
cmp -s run1/adapter/adapter_model.safetensors seed8/adapter/adapter_model.safetensors \
  && failed "--seed 8 gave the adapter of --seed 7" || pass "another --seed, another adapter"
printf '{"prompt": "Two plus two is", "completion": " four."}\n{"text": "plain text"}\n' >mixed.jsonl
printf '{"text": "The cat sat on the mat."}\n{"text": "Two and two make four."}\n' >texts.jsonl
run_ok "text layout" "$ZILI" sft --config "$RECIPE" --model base --data texts.jsonl --out texts \
  --max-steps 2

# Every recipe loads and runs a step (its settings on the tiny model).
for recipe in "$SOURCE_DIR"/recipes/*.toml; do
  name=$(basename "$recipe" .toml)
  run_ok "recipe $name runs" "$ZILI" sft --config "$recipe" --model pre/model --data train.jsonl \
    --out "recipe-$name" --max-steps 1 --epochs 1
done

# --- NaN: stop with the step, keep the last good checkpoint; or skip ------------------------
"$ZILI" sft --config "$RECIPE" --model pre/model --data train.jsonl --out nan --lr 1e30 \
  --max-grad-norm 0 --save-every 1 --max-steps 10 >out.txt 2>err.txt
code=$?
expect_equal "a non-finite loss stops the run with exit 1" "$code" "1"
tail -1 err.txt | grep -q "step [0-9]*: the loss is not finite" && pass "it names the step: $(tail -1 err.txt)" \
  || failed "NaN stop message: $(cat err.txt)"
grep -q "checkpoints/step-" err.txt && pass "the NaN stop names the last good checkpoint" \
  || failed "NaN stop without the checkpoint: $(cat err.txt)"
run_ok "--skip-nonfinite carries on" "$ZILI" sft --config "$RECIPE" --model pre/model \
  --data train.jsonl --out nan-skip --lr 1e30 --max-grad-norm 0 --max-steps 4 --skip-nonfinite

# --- mistakes: one line each, nothing written -----------------------------------------------
printf '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' >bad.jsonl
printf '{"messages": [{"role": "user", "content": "hi"}]}\n' >>bad.jsonl
expect_error "a bad line stops before training" "bad.jsonl:2:" \
  "$ZILI" sft --config "$RECIPE" --model base --data bad.jsonl --out bad
[ -e bad ] && failed "a run folder was made for bad data" || pass "no run folder for bad data"
expect_error "mixed layouts" "mixed.jsonl:2:" "$ZILI" sft --config "$RECIPE" --model base \
  --data mixed.jsonl --out bad
expect_error "--out exists" "--resume run1" "$ZILI" sft --config "$RECIPE" --model base \
  --data train.jsonl --out run1
expect_error "resume with another --lr" "keeps its settings" "$ZILI" sft --resume run1 --lr 1
expect_error "resume of a non-run" "not a run folder" "$ZILI" sft --resume base
expect_error "negative lr" "--lr must be positive" "$ZILI" sft --model base --data train.jsonl \
  --out bad --lr -1
expect_error "r = 0" "--lora-r must be at least 1" "$ZILI" sft --model base --data train.jsonl \
  --out bad --lora-r 0
expect_error "unknown template" '"chatxml"' "$ZILI" sft --model base --data train.jsonl \
  --out bad --chat-template chatxml
expect_error "unknown device" "--device tpu: expected auto, cpu, cuda or cuda:N" \
  "$ZILI" sft --model base --data train.jsonl --out bad --device tpu
# build/zili is the CPU build; a CUDA build on a machine without a GPU says so too.
expect_error "a GPU where there is none" "use --device cpu" \
  "$ZILI" sft --model base --data train.jsonl --out bad --device cuda:1
[ -e bad ] && failed "a refused device left a run folder" || pass "no run folder for a refused device"
run_ok "resume on another device" "$ZILI" sft --resume run1 --device cpu --no-fused
expect_error "unknown target" '"c_attn"' "$ZILI" sft --model base --data train.jsonl --out bad \
  --lora-targets q_proj,c_attn
printf 'lr = 1e-3\nlearning-rate = 2\n' >typo.toml
expect_error "a recipe with an unknown key" '"learning-rate" is not a setting' \
  "$ZILI" sft --config typo.toml --model base --data train.jsonl --out bad
expect_error "missing --data" "--data is required" "$ZILI" sft --model base --out bad
expect_error "missing data file" "none.jsonl" "$ZILI" sft --model base --data none.jsonl --out bad
[ -e bad ] && failed "a failed sft left bad/" || pass "no output after the failed runs"
finish
