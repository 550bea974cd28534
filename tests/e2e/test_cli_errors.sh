#!/usr/bin/env bash
# Every error a user can cause on these commands: one line on stderr that says what and
# where, an exit code of 1..127, and no half-written output.
source "$(dirname "$0")/lib.sh"

"$ZILI" init --preset tiny --train-tokenizer "$CORPUS" --vocab-size 512 --out good >/dev/null 2>&1 \
  || { echo "FAILED: could not make the test model"; exit 1; }
printf '{"text": "hello"}\n' >texts.jsonl

expect_error "missing model folder" "no-such-dir: no such folder" "$ZILI" inspect no-such-dir
expect_error "eval on a missing folder" "no-such-dir" "$ZILI" eval --model no-such-dir --data texts.jsonl

mkdir -p empty && expect_error "folder without config.json" "no config.json" "$ZILI" inspect empty

cp -r good badjson && echo '{"hidden_size": 64,' >badjson/config.json
expect_error "config.json not JSON" "config.json: not valid JSON" "$ZILI" inspect badjson

cp -r good gpt2 && sed -i 's/LlamaForCausalLM/GPT2LMHeadModel/' gpt2/config.json
expect_error "unknown architecture" "GPT2LMHeadModel is not supported" "$ZILI" generate --model gpt2 --prompt hi

cp -r good yarn && python3 - yarn/config.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["rope_parameters"] = {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0}
json.dump(c, open(sys.argv[1], "w"))
PY
expect_error "unsupported rope scaling" 'rope type "yarn" is not supported' "$ZILI" eval --model yarn --data texts.jsonl

cp -r good wide && sed -i 's/"hidden_size": 64/"hidden_size": 128/' wide/config.json
expect_error "config contradicts the weights" "has shape [512, 64] but config.json implies [512, 128]" \
  "$ZILI" eval --model wide --data texts.jsonl

cp -r good noweights && rm noweights/model.safetensors
expect_error "no weights" "no model.safetensors" "$ZILI" eval --model noweights --data texts.jsonl

cp -r good truncated && truncate -s 1000 truncated/model.safetensors
expect_error "truncated safetensors" "model.safetensors" "$ZILI" eval --model truncated --data texts.jsonl

cp -r good notok && rm notok/tokenizer.model
expect_error "missing tokenizer" "tokenizer.model" "$ZILI" eval --model notok --data texts.jsonl

printf '{"text": "fine"}\n{"text": 42}\n' >badtype.jsonl
expect_error "eval: text of the wrong type" "badtype.jsonl:2:" "$ZILI" eval --model good --data badtype.jsonl
printf '{"text": "fine"}\nnot json\n' >notjson.jsonl
expect_error "eval: line not JSON" "notjson.jsonl:2: not valid JSON" "$ZILI" eval --model good --data notjson.jsonl
printf '{"prompt": "x"}\n' >nokey.jsonl
expect_error "eval: prompt without completion" 'nokey.jsonl:1: missing key "completion"' "$ZILI" eval --model good --data nokey.jsonl
expect_error "eval: missing data file" "missing.jsonl" "$ZILI" eval --model good --data missing.jsonl
expect_error "eval: unknown device" "--device gpu0: expected auto, cpu, cuda or cuda:N" \
  "$ZILI" eval --model good --data texts.jsonl --device gpu0
expect_error "generate: no GPU" "--device cuda: " "$ZILI" generate --model good --prompt hi --device cuda
expect_error "eval: out into a missing folder" "nowhere/records.jsonl" \
  "$ZILI" eval --model good --data texts.jsonl --out nowhere/records.jsonl

expect_error "init: unknown preset" 'unknown preset "huge"' \
  "$ZILI" init --preset huge --tokenizer good/tokenizer.model --out huge
[ -e huge ] && failed "init left a folder after failing" || pass "no output after a failed init"
expect_error "init: bad dtype" 'dtype "f8"' "$ZILI" init --dtype f8 --tokenizer good/tokenizer.model --out x
expect_error "init: bad shard size" "--max-shard-size" \
  "$ZILI" init --max-shard-size lots --tokenizer good/tokenizer.model --out x
expect_error "init: a template init cannot write" "init writes chatml or zephyr" \
  "$ZILI" init --chat-template llama2 --tokenizer good/tokenizer.model --out x
[ -e x ] && failed "init left a folder after failing" || pass "no output after a refused template"
expect_error "init: unknown template" 'unknown chat template "vicuna"' \
  "$ZILI" init --chat-template vicuna --tokenizer good/tokenizer.model --out x
expect_error "generate: --system without --chat" "--system needs --chat" \
  "$ZILI" generate --model good --prompt hi --system "Be brief."
expect_error "generate: --chat-template without --chat" "--chat-template needs --chat" \
  "$ZILI" generate --model good --prompt hi --chat-template zephyr
expect_error "init: existing output" "pass --force" "$ZILI" init --train-tokenizer "$CORPUS" --out good
expect_error "init: output holds the tokenizer" "holds the input good/tokenizer.model" \
  "$ZILI" init --tokenizer good/tokenizer.model --out good --force
expect_error "init: missing tokenizer" "nope.model" "$ZILI" init --tokenizer nope.model --out x
expect_error "init: corrupt tokenizer" "texts.jsonl" "$ZILI" init --tokenizer texts.jsonl --out x
expect_error "init: both tokenizer flags" "exactly one of" \
  "$ZILI" init --tokenizer good/tokenizer.model --train-tokenizer "$CORPUS" --out x

expect_error "init: vocabulary too large for the corpus" "smaller --vocab-size" \
  "$ZILI" init --train-tokenizer "$CORPUS" --vocab-size 100000 --out big
[ -e big ] && failed "init left a folder after failing to train" || pass "no output after a failed training"
long=$(python3 -c 'print("word " * 600)')
expect_error "generate: prompt longer than the model" "more than the model's 512 positions" \
  "$ZILI" generate --model good --prompt "$long"
expect_error "generate: NaN temperature" "--temperature" "$ZILI" generate --model good --prompt hi --temperature nan
expect_error "generate: bad temperature" "--temperature" "$ZILI" generate --model good --prompt hi --temperature -1
expect_error "generate: bad top-p" "--top-p" "$ZILI" generate --model good --prompt hi --temperature 1 --top-p 0
expect_error "unknown flag" "--bogus" "$ZILI" eval --model good --data texts.jsonl --bogus
expect_error "bad dtype flag" 'dtype "f64"' "$ZILI" eval --model good --data texts.jsonl --dtype f64
finish
