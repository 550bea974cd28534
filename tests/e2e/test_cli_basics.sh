#!/usr/bin/env bash
# The commands as a user runs them on tiny models: init (with a trained tokenizer), inspect,
# generate (greedy is deterministic, sampling follows the seed), eval, and a sharded bf16
# medium checkpoint loaded through its index.
source "$(dirname "$0")/lib.sh"

run_ok "init tiny with a trained tokenizer" \
  "$ZILI" init --preset tiny --train-tokenizer "$CORPUS" --vocab-size 512 --out tiny --seed 1
for f in config.json model.safetensors tokenizer.model tokenizer_config.json special_tokens_map.json; do
  [ -f "tiny/$f" ] && pass "init wrote $f" || failed "init did not write $f"
done
ls tiny | grep -q tmp && failed "temporary files left in tiny/" || pass "no temporary files left"

run_ok "inspect tiny" "$ZILI" inspect tiny
grep -q "LlamaForCausalLM" out.txt && grep -q "parameters" out.txt && grep -q "LoRA fine-tune estimate" out.txt \
  && pass "inspect shows architecture, parameters and the LoRA estimate" || failed "inspect output: $(cat out.txt)"

"$ZILI" generate --model tiny --prompt "The cat" --max-new-tokens 12 >gen1.txt 2>/dev/null
"$ZILI" generate --model tiny --prompt "The cat" --max-new-tokens 12 >gen2.txt 2>/dev/null
[ "$(wc -c <gen1.txt)" -gt 1 ] && cmp -s gen1.txt gen2.txt && pass "greedy generation is deterministic" \
  || failed "greedy outputs empty or different: $(od -c gen1.txt | head -2)"
"$ZILI" generate --model tiny --prompt "The cat" --max-new-tokens 12 --temperature 1 --seed 4 >s1.txt 2>/dev/null
"$ZILI" generate --model tiny --prompt "The cat" --max-new-tokens 12 --temperature 1 --seed 4 >s2.txt 2>/dev/null
"$ZILI" generate --model tiny --prompt "The cat" --max-new-tokens 12 --temperature 1 --seed 5 >s3.txt 2>/dev/null
cmp -s s1.txt s2.txt && pass "sampling with one seed repeats" || failed "same seed, different samples"
cmp -s s1.txt s3.txt && failed "different seeds gave the same sample" || pass "different seeds differ"

printf '{"text": "The cat sat on the mat."}\n\n{"text": "Two and two make four."}\n' >texts.jsonl
run_ok "eval" "$ZILI" eval --model tiny --data texts.jsonl --out records.jsonl --per-token
grep -q "^overall: 2 lines" out.txt && pass "eval summary" || failed "eval summary: $(cat out.txt)"
expect_equal "eval writes one record per line" "$(wc -l <records.jsonl)" "2"
grep -q '"line":3' records.jsonl && pass "records keep the file's line numbers" || failed "line numbers: $(cat records.jsonl)"

# bf16 weights in memory (fp32 math): the same figures to bf16 rounding of the weights.
"$ZILI" eval --model tiny --data texts.jsonl >f32.txt 2>/dev/null
"$ZILI" eval --model tiny --data texts.jsonl --dtype bf16 >bf16.txt 2>/dev/null
python3 - f32.txt bf16.txt <<'PY' && pass "eval --dtype bf16 agrees with f32 to 1%" || failed "eval --dtype bf16: $(tail -1 bf16.txt)"
import re, sys
def logprob(path):
    return float(re.search(r"logprob (-?[0-9.]+)", open(path).read().splitlines()[-1]).group(1))
a, b = logprob(sys.argv[1]), logprob(sys.argv[2])
sys.exit(0 if a != b and abs(a - b) <= 0.01 * abs(a) else 1)
PY

run_ok "init medium bf16 sharded" "$ZILI" init --preset medium --dtype bf16 --max-shard-size 50MB \
  --tokenizer tiny/tokenizer.model --out medium
[ -f medium/model.safetensors.index.json ] && pass "medium has an index" || failed "medium has no index"
shards=$(ls medium/model-*-of-*.safetensors | wc -l)
[ "$shards" -ge 5 ] && pass "medium has $shards shards" || failed "medium has $shards shards"
run_ok "inspect medium" "$ZILI" inspect medium
grep -q "BF16" out.txt && grep -q "shards (model.safetensors.index.json)" out.txt \
  && pass "inspect reads the sharded bf16 checkpoint" || failed "inspect medium: $(cat out.txt)"
run_ok "eval medium through the index" "$ZILI" eval --model medium --data texts.jsonl
run_ok "init mini" "$ZILI" init --preset mini --tokenizer tiny/tokenizer.model --out mini
run_ok "inspect mini" "$ZILI" inspect mini
grep -qE "layers +4" out.txt && grep -qE "hidden size +256" out.txt && pass "mini: 4 layers, hidden 256" \
  || failed "inspect mini: $(cat out.txt)"

# A chat model: init writes the template's Jinja and makes its markers whole tokens; the
# other commands find the template there; generate --chat renders the prompt with it.
run_ok "init with the chatml template" "$ZILI" init --preset tiny --train-tokenizer "$CORPUS" \
  --vocab-size 512 --chat-template chatml --out chat --seed 1
grep -qF '"chat_template": "{{ bos_token }}' chat/tokenizer_config.json \
  && grep -qF '"content": "<|im_end|>"' chat/tokenizer_config.json \
  && pass "tokenizer_config.json has the template and the markers as added tokens" \
  || failed "chat tokenizer_config.json: $(cat chat/tokenizer_config.json)"
"$ZILI" tokenize --model chat --text "x<|im_start|>y<|im_end|>" --json >pieces.json 2>/dev/null
grep -qF '"<|im_start|>"' pieces.json && grep -qF '"<|im_end|>"' pieces.json \
  && pass "<|im_start|> and <|im_end|> are one piece each" || failed "chat pieces: $(cat pieces.json)"
run_ok "init --chat-template with a given tokenizer" "$ZILI" init --preset tiny \
  --tokenizer tiny/tokenizer.model --chat-template chatml --out chat-text-markers
grep -qF 'no "<|im_start|>" piece; the chatml template'"'"'s markers stay plain text' err.txt \
  && pass "init warns that a given tokenizer keeps the markers as text" || failed "init warning: $(cat err.txt)"
run_ok "generate --chat with a system message" "$ZILI" generate --model chat --chat \
  --system "Be brief." --prompt "What is two plus two?" --max-new-tokens 8
grep -qF "chat template: chatml (recognised in" err.txt && pass "generate --chat finds the template" \
  || failed "generate --chat log: $(cat err.txt)"
run_ok "generate --chat --chat-template zephyr" "$ZILI" generate --model chat --chat \
  --chat-template zephyr --prompt "Hi" --max-new-tokens 4
grep -qF "chat template: zephyr" err.txt && pass "--chat-template overrides the model's" \
  || failed "generate --chat-template log: $(cat err.txt)"
finish
