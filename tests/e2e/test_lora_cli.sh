#!/usr/bin/env bash
# LoRA from the command line: lora-init writes a PEFT folder, --adapter changes what eval and
# generate compute (and a new adapter, B = 0, changes nothing), and each mistake is one line.
source "$(dirname "$0")/lib.sh"

"$ZILI" init --preset tiny --train-tokenizer "$CORPUS" --vocab-size 512 --out base >/dev/null 2>&1 \
  || { echo "FAILED: could not make the test model"; exit 1; }
printf '{"text": "The cat sat on the mat."}\n{"text": "Two and two make four."}\n' >texts.jsonl

run_ok "lora-init, default init" "$ZILI" lora-init --model base --out zero --lora-targets all-linear
for f in adapter_config.json adapter_model.safetensors; do
  [ -f "zero/$f" ] && pass "lora-init wrote $f" || failed "lora-init did not write $f"
done
grep -q '"q_proj"' zero/adapter_config.json && ! grep -q '"all-linear"' zero/adapter_config.json \
  && pass "all-linear is saved as the explicit module list PEFT reads" || failed "target_modules: $(cat zero/adapter_config.json)"
run_ok "lora-init, random B" "$ZILI" lora-init --model base --out random --lora-targets q_proj,v_proj \
  --lora-layers 1 --rslora --random-b 0.5 --seed 2

"$ZILI" eval --model base --data texts.jsonl >base.txt 2>/dev/null
"$ZILI" eval --model base --adapter zero --data texts.jsonl >zero.txt 2>/dev/null
"$ZILI" eval --model base --adapter random --data texts.jsonl >random.txt 2>/dev/null
expect_equal "a new adapter (B = 0) changes nothing" "$(tail -1 zero.txt)" "$(tail -1 base.txt)"
[ "$(tail -1 random.txt)" != "$(tail -1 base.txt)" ] && pass "a random adapter changes eval" \
  || failed "a random adapter left eval unchanged"
"$ZILI" generate --model base --prompt "The cat" --max-new-tokens 16 --temperature 1 --seed 1 >g-base.txt 2>/dev/null
"$ZILI" generate --model base --adapter random --prompt "The cat" --max-new-tokens 16 --temperature 1 --seed 1 >g-ad.txt 2>/dev/null
[ -s g-ad.txt ] && ! cmp -s g-base.txt g-ad.txt && pass "generate --adapter changes the text" \
  || failed "generate --adapter: same text as the base"

expect_error "lora-init: unknown target" '"c_attn" matches no layer' \
  "$ZILI" lora-init --model base --out x --lora-targets q_proj,c_attn
expect_error "lora-init: layer out of range" "layers 0-1" "$ZILI" lora-init --model base --out x --lora-layers 0-5
expect_error "lora-init: bad layer list" "cannot read" "$ZILI" lora-init --model base --out x --lora-layers one
expect_error "lora-init: r = 0" "--lora-r must be at least 1" "$ZILI" lora-init --model base --out x --lora-r 0
expect_error "lora-init: dropout 1" "--lora-dropout" "$ZILI" lora-init --model base --out x --lora-dropout 1
expect_error "lora-init: bad init" '--init: "pissa"' "$ZILI" lora-init --model base --out x --init pissa
expect_error "lora-init: --out is the model" "holds the input" "$ZILI" lora-init --model base --out base --force
[ -f base/model.safetensors ] && pass "the base survived" || failed "lora-init --force deleted the base"
[ -e x ] && failed "a failed lora-init left x/" || pass "no output after failed lora-init"

"$ZILI" init --preset small --tokenizer base/tokenizer.model --out other >/dev/null 2>&1
expect_error "eval --adapter for another model" "[8, 64]" \
  "$ZILI" eval --model other --adapter random --data texts.jsonl
expect_error "eval --adapter missing" "no such adapter folder" \
  "$ZILI" eval --model base --adapter nowhere --data texts.jsonl
cp -r random dora && sed -i 's/"use_dora": false/"use_dora": true/' dora/adapter_config.json
expect_error "generate --adapter with DoRA" "DoRA" "$ZILI" generate --model base --adapter dora --prompt hi
cp -r random broken && echo '{' >broken/adapter_config.json
expect_error "adapter_config.json not JSON" "adapter_config.json: not valid JSON" \
  "$ZILI" eval --model base --adapter broken --data texts.jsonl
finish
