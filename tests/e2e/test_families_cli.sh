#!/usr/bin/env bash
# Every family from the command line, as a new user would try it: `zili init --arch X`, then
# inspect names the family and its options, eval, a short sft, a short dpo, merge of the sft
# adapter, generate from the merged folder (its numbers against transformers are the peer
# tests' business: tests/peer/test_forward_parity.py, test_peft_parity.py,
# test_dpo_families_parity.py).
source "$(dirname "$0")/lib.sh"

"$ZILI" init --preset tiny --train-tokenizer "$CORPUS" --vocab-size 512 --out tok >/dev/null 2>&1 \
  || { echo "FAILED: could not make the tokenizer"; exit 1; }
printf '{"text": "The cat sat on the mat, and then the dog sat on the cat for a while."}\n' >texts.jsonl
printf '{"prompt": "The cat sat on the", "completion": " mat."}\n{"prompt": "Two and two", "completion": " make four."}\n' >sft.jsonl
printf '{"prompt": "The cat sat on the", "chosen": " mat.", "rejected": " moon."}\n{"prompt": "Two and two", "chosen": " make four.", "rejected": " make five."}\n' >pairs.jsonl

declare -A option=([llama]=SwiGLU [mistral]="every layer" [qwen2]="q/k/v biases" [qwen3]="q/k norms"
  [gemma2]="final soft-cap 30" [gemma3]="(sliding layers: theta 10000)" [phi3]="fused qkv_proj")
for arch in llama mistral qwen2 qwen3 gemma2 gemma3 phi3; do
  run_ok "$arch: init" "$ZILI" init --arch "$arch" --preset tiny --tokenizer tok/tokenizer.model \
    --out "$arch" --seed 3
  "$ZILI" inspect "$arch" >inspect.txt 2>&1
  grep -q "(family $arch)" inspect.txt && grep -qF -- "${option[$arch]}" inspect.txt \
    && pass "$arch: inspect names the family and its options" \
    || failed "$arch: inspect says: $(cat inspect.txt)"
  run_ok "$arch: eval" "$ZILI" eval --model "$arch" --data texts.jsonl --threads 1
  run_ok "$arch: sft" "$ZILI" sft --model "$arch" --data sft.jsonl --out "$arch-sft" --max-steps 2 \
    --batch-size 2 --lora-targets all-linear --threads 1
  run_ok "$arch: dpo" "$ZILI" dpo --model "$arch" --data pairs.jsonl --out "$arch-dpo" \
    --max-steps 1 --batch-size 2 --threads 1
  run_ok "$arch: merge" "$ZILI" merge --model "$arch" --adapter "$arch-sft/adapter" \
    --out "$arch-merged"
  run_ok "$arch: generate from the merged model" "$ZILI" generate --model "$arch-merged" \
    --prompt "The cat" --max-new-tokens 4 --threads 1
done
finish
