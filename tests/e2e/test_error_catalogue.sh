#!/usr/bin/env bash
# docs/errors.md, run: every case of the catalogue, each by its number. A case passes when
# zili exits with 1 (a user's error; 2 is a bug in zili, a signal worse), its stderr ends with
# its only error line, "zili: error: ..." containing the expected text (the file, and the line
# or tensor where there is one; before it only the progress lines a training command logs),
# and the command's output name is as it was: absent if it was absent, the same files if it
# existed, and no temporary sibling (NAME.tmp-*) behind. Last, the catalogue's numbers and the
# numbers run here must be the same set.
source "$(dirname "$0")/lib.sh"
CATALOGUE=$SOURCE_DIR/docs/errors.md
ran=()

# snapshot PATH: the files under PATH and their hashes, and any temporary siblings.
snapshot() {
  if [ -e "$1" ]; then find "$1" -type f -exec sha256sum {} + | sort; else echo "(absent)"; fi
  ls -d "$1".tmp-* 2>/dev/null
}

# case N TEXT OUT CMD...: catalogue case N; OUT is the output name the command would write
# ("-" where it writes none).
case_() {
  local number=$1 text=$2 out=$3; shift 3
  local before
  [ "$out" = - ] || before=$(snapshot "$out")
  "$@" >"$WORK/out.txt" 2>"$WORK/err.txt"
  local code=$? last errors
  last=$(tail -n 1 "$WORK/err.txt")
  errors=$(grep -c "^zili: " "$WORK/err.txt")
  if [ "$code" -ne 1 ]; then failed "case $number: exit code $code, expected 1: $(cat "$WORK/err.txt")"
  elif [ "$errors" -ne 1 ] || [[ "$last" != "zili: error: "* ]]; then
    failed "case $number: the last line is not the only error line: $(cat "$WORK/err.txt")"
  elif [[ "$last" != *"$text"* ]]; then failed "case $number: '$last' lacks '$text'"
  else pass "case $number: $last"; fi
  if [ "$out" != - ]; then
    local after
    after=$(snapshot "$out")
    if [ "$before" = "$after" ]; then pass "case $number: $out as it was"
    else failed "case $number: $out changed: before: $before; after: $after"; fi
  fi
  ran+=("$number")
}

# safetensors_edit FILE PYTHON: runs PYTHON with `header` (the JSON header, a dict) and
# `data` (the bytes after it) loaded from FILE; FILE is rewritten from them, unless the code
# writes it itself (then it sets done = True).
safetensors_edit() {
  python3 - "$1" "$2" <<'PY'
import json, struct, sys
path, code = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header, data, done = json.loads(raw[8:8 + n]), raw[8 + n:], False
exec(code)
if not done:
    text = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data)
PY
}

# --- inputs -----------------------------------------------------------------------------------
"$ZILI" init --preset tiny --train-tokenizer "$CORPUS" --vocab-size 512 --out good >/dev/null 2>&1 &&
  "$ZILI" init --preset tiny --tokenizer good/tokenizer.model --max-shard-size 200KB \
    --out sharded >/dev/null 2>&1 ||
  { echo "FAILED: could not make the test models"; exit 1; }
printf '{"text": "hello there"}\n' >texts.jsonl
python3 - <<'PY'
import json
pairs = [{"prompt": f"Question {i}:", "chosen": f" yes {i}.", "rejected": f" no, never {i}."}
         for i in range(4)]
open("pairs.jsonl", "w").write("".join(json.dumps(p) + "\n" for p in pairs))
sft = [{"prompt": f"Question {i}:", "completion": f" answer {i}."} for i in range(4)]
open("sft.jsonl", "w").write("".join(json.dumps(p) + "\n" for p in sft))
PY
"$ZILI" lora-init --model good --out adapter --lora-targets all-linear --lora-r 4 >/dev/null 2>&1 ||
  { echo "FAILED: could not make the test adapter"; exit 1; }
train=(--model good --max-steps 2 --batch-size 2 --threads 1 --log-every 1)

# --- checkpoints ------------------------------------------------------------------------------
case_ 1 "nowhere: no such folder" - "$ZILI" eval --model nowhere --data texts.jsonl
mkdir -p empty
case_ 2 "empty/config.json: no config.json" - "$ZILI" eval --model empty --data texts.jsonl
cp -r good noweights && rm noweights/model.safetensors
case_ 3 "noweights: no model.safetensors" - "$ZILI" eval --model noweights --data texts.jsonl
cp -r good truncated && truncate -s 1000 truncated/model.safetensors
case_ 4 "truncated/model.safetensors" - "$ZILI" eval --model truncated --data texts.jsonl
cp -r good lying && safetensors_edit lying/model.safetensors \
  'header["model.norm.weight"]["data_offsets"][1] += 4'
case_ 5 "lying/model.safetensors: tensor 'model.norm.weight'" - "$ZILI" eval --model lying --data texts.jsonl
cp -r good overlap && safetensors_edit overlap/model.safetensors '
header["model.layers.1.input_layernorm.weight"]["data_offsets"] = \
    header["model.layers.0.input_layernorm.weight"]["data_offsets"]'
case_ 6 "overlap/model.safetensors: tensor" - "$ZILI" eval --model overlap --data texts.jsonl
cp -r good hugeheader && safetensors_edit hugeheader/model.safetensors '
open(path, "wb").write(struct.pack("<Q", 1 << 60) + raw[8:]); done = True'
case_ 7 "hugeheader/model.safetensors" - "$ZILI" eval --model hugeheader --data texts.jsonl
cp -r good garbledheader && safetensors_edit garbledheader/model.safetensors '
open(path, "wb").write(raw[:8] + b"{" * n + data); done = True'
case_ 8 "garbledheader/model.safetensors" - "$ZILI" eval --model garbledheader --data texts.jsonl
cp -r good wide && sed -i 's/"hidden_size": 64/"hidden_size": 128/' wide/config.json
case_ 9 "model.embed_tokens.weight" - "$ZILI" eval --model wide --data texts.jsonl
cp -r sharded missingshard && rm "$(ls missingshard/model-*.safetensors | tail -1)"
case_ 10 "missingshard/model-" - "$ZILI" eval --model missingshard --data texts.jsonl
cp -r sharded badindex && echo '{"weight_map": ' >badindex/model.safetensors.index.json
case_ 11 "badindex/model.safetensors.index.json" - "$ZILI" eval --model badindex --data texts.jsonl
cp -r good q4 && safetensors_edit q4/model.safetensors 'header["model.norm.weight"]["dtype"] = "Q4_K"'
case_ 12 "q4/model.safetensors: tensor 'model.norm.weight'" - "$ZILI" eval --model q4 --data texts.jsonl
cp -r good nan && safetensors_edit nan/model.safetensors '
begin = header["model.norm.weight"]["data_offsets"][0]
data = data[:begin] + struct.pack("<f", float("nan")) + data[begin + 4:]'
case_ 13 "nan: tensor model.norm.weight holds NaN" - "$ZILI" eval --model nan --data texts.jsonl
case_ 14 "nan: tensor model.norm.weight holds NaN" run "$ZILI" sft --model nan --data sft.jsonl \
  --max-steps 2 --batch-size 2 --threads 1 --out run

# --- configs ----------------------------------------------------------------------------------
cp -r good badjson && echo '{"hidden_size": 64,' >badjson/config.json
case_ 15 "badjson/config.json: not valid JSON" - "$ZILI" eval --model badjson --data texts.jsonl
cp -r good gpt2 && sed -i 's/LlamaForCausalLM/GPT2LMHeadModel/' gpt2/config.json
case_ 16 "GPT2LMHeadModel is not supported" - "$ZILI" eval --model gpt2 --data texts.jsonl
cp -r good nokey && sed -i '/"num_hidden_layers"/d' nokey/config.json
case_ 17 "num_hidden_layers" - "$ZILI" eval --model nokey --data texts.jsonl
cp -r good wrongtype && sed -i 's/"num_hidden_layers": 2/"num_hidden_layers": "two"/' wrongtype/config.json
case_ 18 "num_hidden_layers" - "$ZILI" eval --model wrongtype --data texts.jsonl
cp -r good yarn && python3 - yarn/config.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["rope_parameters"] = {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0}
json.dump(c, open(sys.argv[1], "w"))
PY
case_ 19 'rope type "yarn" is not supported' - "$ZILI" eval --model yarn --data texts.jsonl
# The families (issue 17): refused architectures and options name what is missing.
config_edit() {  # config_edit DIR PYTHON: runs PYTHON on DIR/config.json's dict `c`
  python3 - "$1/config.json" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"))
PY
}
cp -r good moe && config_edit moe 'c["architectures"] = ["Qwen2MoeForCausalLM"]'
case_ 70 "mixture-of-experts" - "$ZILI" eval --model moe --data texts.jsonl
cp -r good longrope && config_edit longrope '
c["architectures"] = ["Phi3ForCausalLM"]
c["rope_parameters"] = {"rope_type": "longrope", "rope_theta": 10000.0,
                        "short_factor": [1.0] * 8, "long_factor": [2.0] * 8}'
case_ 71 'rope type "longrope" is not supported' - "$ZILI" eval --model longrope --data texts.jsonl
cp -r good gemma3mm && config_edit gemma3mm 'c["architectures"] = ["Gemma3ForConditionalGeneration"]'
case_ 72 "text model only" - "$ZILI" eval --model gemma3mm --data texts.jsonl
cp -r good nowindow && config_edit nowindow '
c["architectures"] = ["Qwen2ForCausalLM"]
c["layer_types"] = ["sliding_attention", "full_attention"]'
case_ 73 "no sliding_window is set (use_sliding_window is false)" - \
  "$ZILI" eval --model nowindow --data texts.jsonl
case_ 74 '--arch: unknown architecture "gpt2"' newarch \
  "$ZILI" init --arch gpt2 --tokenizer good/tokenizer.model --out newarch

# --- tokenizers -------------------------------------------------------------------------------
cp -r good notok && rm notok/tokenizer.model
case_ 20 "notok: no tokenizer.json or tokenizer.model" - "$ZILI" eval --model notok --data texts.jsonl
cp -r good badtok && head -c 3000 /dev/urandom >badtok/tokenizer.model
case_ 21 "badtok/tokenizer.model" - "$ZILI" eval --model badtok --data texts.jsonl

# --- data -------------------------------------------------------------------------------------
printf '{"prompt": "a", "completion": " b"}\nnot json\n' >notjson.jsonl
case_ 22 "notjson.jsonl:2: not valid JSON" run "$ZILI" sft "${train[@]}" --data notjson.jsonl --out run
printf '{"prompt": "a", "completion": " b"}\n{"prompt": "a", "completion": 7}\n' >badtype.jsonl
case_ 23 "badtype.jsonl:2:" run "$ZILI" sft "${train[@]}" --data badtype.jsonl --out run
printf '{"prompt": "a"}\n' >nokey.jsonl
case_ 24 'nokey.jsonl:1: missing key "completion"' run "$ZILI" sft "${train[@]}" --data nokey.jsonl --out run
: >empty.jsonl
case_ 25 "empty.jsonl" run "$ZILI" sft "${train[@]}" --data empty.jsonl --out run
printf '{"text": "a b"}\n{"prompt": "a", "completion": " b"}\n' >mixed.jsonl
case_ 26 "mixed.jsonl:2:" run "$ZILI" sft "${train[@]}" --data mixed.jsonl --out run
case_ 27 "sft.jsonl" run "$ZILI" dpo "${train[@]}" --data sft.jsonl --out run
case_ 28 "pairs.jsonl:1: a preference pair" run "$ZILI" sft "${train[@]}" --data pairs.jsonl --out run
printf '{"prompt": "a", "chosen": " same", "rejected": " same"}\n' >same.jsonl
case_ 29 "same.jsonl:1:" run "$ZILI" dpo "${train[@]}" --data same.jsonl --out run
case_ 30 "pairs.jsonl" run "$ZILI" dpo "${train[@]}" --data pairs.jsonl --max-length 3 --drop-overlong --out run
case_ 31 "none.jsonl" run "$ZILI" sft "${train[@]}" --data none.jsonl --out run
printf '[1, 2, 3]\n' >array.jsonl
case_ 32 "array.jsonl:1:" run "$ZILI" sft "${train[@]}" --data array.jsonl --out run
printf '{"prompt": "a", "completion": " b"}\n{"prompt": "a", "completion": 1e999}\n' >overflow.jsonl
case_ 53 "overflow.jsonl:2: not valid JSON (a number out of range)" run \
  "$ZILI" sft "${train[@]}" --data overflow.jsonl --out run

# --- adapters ---------------------------------------------------------------------------------
cp -r adapter rank && sed -i 's/"r": 4/"r": 8/' rank/adapter_config.json
case_ 33 "rank/adapter_model.safetensors" - "$ZILI" eval --model good --adapter rank --data texts.jsonl
"$ZILI" init --preset mini --tokenizer good/tokenizer.model --out other >/dev/null 2>&1
"$ZILI" lora-init --model other --out otheradapter --lora-r 4 >/dev/null 2>&1
case_ 34 "otheradapter/adapter_model.safetensors" - \
  "$ZILI" eval --model good --adapter otheradapter --data texts.jsonl
cp -r adapter foreign && sed -i 's/"q_proj"/"c_attn"/' foreign/adapter_config.json
case_ 35 "foreign/adapter_model.safetensors: tensor base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight is for a module this base lacks" - "$ZILI" eval --model good --adapter foreign --data texts.jsonl
case_ 36 "noadapter" - "$ZILI" eval --model good --adapter noadapter --data texts.jsonl
cp -r adapter notensors && rm notensors/adapter_model.safetensors
case_ 37 "notensors/adapter_model.safetensors" - "$ZILI" eval --model good --adapter notensors --data texts.jsonl
cp -r adapter dora && sed -i 's/"use_dora": false/"use_dora": true/' dora/adapter_config.json
case_ 38 "DoRA" merged "$ZILI" merge --model good --adapter dora --out merged
cp -r adapter badconfig && echo '{"r": ' >badconfig/adapter_config.json
case_ 39 "badconfig/adapter_config.json: not valid JSON" - \
  "$ZILI" eval --model good --adapter badconfig --data texts.jsonl
cp -r adapter lacking && safetensors_edit lacking/adapter_model.safetensors '
name = [k for k in header if k.endswith("layers.1.mlp.down_proj.lora_B.weight")][0]
gone = header.pop(name)["data_offsets"]
# the bytes after it move up, so that the file stays consistent but for the missing tensor
data = data[:gone[0]] + data[gone[1]:]
for entry in header.values():
    if "data_offsets" in entry and entry["data_offsets"][0] >= gone[1]:
        entry["data_offsets"] = [o - (gone[1] - gone[0]) for o in entry["data_offsets"]]'
case_ 40 "layers.1.mlp.down_proj.lora_B.weight" merged "$ZILI" merge --model good --adapter lacking --out merged

# --- chat templates ---------------------------------------------------------------------------
echo '{"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "again"}]}' >chats.jsonl
case_ 60 "missing.jinja: no such file" - \
  "$ZILI" template --model good --data chats.jsonl --chat-template missing.jinja
printf 'ok\n{%% if %%}\n' >broken.jinja
case_ 61 "broken.jinja:2: expected an expression" out.jsonl \
  "$ZILI" template --model good --data chats.jsonl --chat-template broken.jinja --out out.jsonl
echo '{% call f() %}{% endcall %}' >call.jinja
case_ 62 "call.jinja:1: the 'call' block is not supported" - \
  "$ZILI" template --model good --data chats.jsonl --chat-template call.jinja
cat >alternate.jinja <<'JINJA'
{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{{ m['content'] }}{% endfor %}
JINJA
case_ 63 "chats.jsonl:1: alternate.jinja: the template raised: Conversation roles must alternate" \
  out.jsonl "$ZILI" template --model good --data chats.jsonl --chat-template alternate.jinja \
  --out out.jsonl
echo '{{ messages[0].name.first }}' >strict.jinja
case_ 64 "chats.jsonl:1: strict.jinja:1: 'dict object' has no attribute 'name'" - \
  "$ZILI" template --model good --data chats.jsonl --chat-template strict.jinja
echo '{"question": "Hi"}' >nolayout.jsonl
case_ 65 'nolayout.jsonl:1: no "text", "prompt"/"completion" or "messages" key' - \
  "$ZILI" template --model good --data nolayout.jsonl

# --- runs -------------------------------------------------------------------------------------
"$ZILI" sft "${train[@]}" --data sft.jsonl --save-every 1 --out done >/dev/null 2>&1 ||
  { echo "FAILED: could not make the finished run"; exit 1; }
case_ 41 "--resume done" done "$ZILI" sft "${train[@]}" --data sft.jsonl --out done
case_ 42 "keeps its settings" done "$ZILI" sft --resume done --lr 1
case_ 43 "good: not a run folder" good "$ZILI" sft --resume good
# Disk full: a run whose newest checkpoint is step 1 (the finished run without what came
# after it), resumed under a file-size limit that its next checkpoint exceeds. The save of
# step 2 fails, nothing appears under that checkpoint's name, and step 1's is untouched.
cp -r done full && rm -rf full/checkpoints/step-2 full/adapter
step1=$(snapshot full/checkpoints/step-1)
case_ 44 "full/checkpoints/step-2" full/checkpoints/step-2 \
  bash -c 'ulimit -f 16 && exec "$0" sft --resume full' "$ZILI"
[ "$(snapshot full/checkpoints/step-1)" = "$step1" ] && pass "case 44: step 1's checkpoint intact" ||
  failed "case 44: step 1's checkpoint changed"
grep -q "The last good checkpoint is full/checkpoints/step-1" err.txt &&
  pass "case 44: the error names the intact checkpoint" || failed "case 44: $(cat err.txt)"
# A folder zili may not write into: mode 555, and for root, who writes through modes, the
# immutable attribute (chattr, on ext4 and most local file systems).
mkdir readonly && chmod 555 readonly
[ "$(id -u)" = 0 ] && chattr +i readonly
case_ 45 "readonly/run" readonly/run "$ZILI" sft "${train[@]}" --data sft.jsonl --out readonly/run
[ "$(id -u)" = 0 ] && chattr -i readonly

# --- flags ------------------------------------------------------------------------------------
case_ 46 "--lr must be positive" run "$ZILI" sft "${train[@]}" --data sft.jsonl --lr -1 --out run
case_ 47 "--lora-r must be at least 1" run "$ZILI" sft "${train[@]}" --data sft.jsonl --lora-r 0 --out run
case_ 48 "--beta must be > 0" run "$ZILI" dpo "${train[@]}" --data pairs.jsonl --beta 0 --out run
case_ 49 '"kto"' run "$ZILI" dpo "${train[@]}" --data pairs.jsonl --loss kto --out run
case_ 50 "--bogus" run "$ZILI" sft "${train[@]}" --data sft.jsonl --bogus --out run
case_ 51 'dtype "f64"' run "$ZILI" sft "${train[@]}" --data sft.jsonl --dtype f64 --out run
case_ 52 "--device tpu" run "$ZILI" sft "${train[@]}" --data sft.jsonl --device tpu --out run

# --- tokenizer.json ---------------------------------------------------------------------------
python3 - <<'PY'
import json
def tokenizer(**parts):
    model = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
             "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
             "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}
    model.update(parts.pop("model", {}))
    spec = {"version": "1.0", "added_tokens": [], "normalizer": None, "pre_tokenizer": None,
            "post_processor": None, "decoder": None, "model": model}
    spec.update(parts)
    return json.dumps(spec)
open("tj-garbled.json", "w").write('{"model": {"type": "BPE", ')
open("tj-wordpiece.json", "w").write(tokenizer(model={"type": "WordPiece"}))
open("tj-bert.json", "w").write(tokenizer(normalizer={"type": "BertNormalizer"}))
open("tj-regex.json", "w").write(tokenizer(pre_tokenizer={
    "type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated", "invert": False}))
open("tj-merge.json", "w").write(tokenizer(model={"merges": ["a zz"]}))
open("tj-good.json", "w").write(tokenizer())
open("not-utf8.txt", "wb").write(b"ab\xffcd")
PY
case_ 54 "tj-garbled.json: not valid JSON" - "$ZILI" tokenize --tokenizer tj-garbled.json --text hi
case_ 55 "tj-wordpiece.json: model.type: model type WordPiece is not supported" - \
  "$ZILI" tokenize --tokenizer tj-wordpiece.json --text hi
case_ 56 "tj-bert.json: normalizer.type: BertNormalizer is not supported" - \
  "$ZILI" tokenize --tokenizer tj-bert.json --text hi
case_ 57 'tj-regex.json: pre_tokenizer.pattern: "(a" is not a valid regex' - \
  "$ZILI" tokenize --tokenizer tj-regex.json --text hi
case_ 58 'tj-merge.json: model.merges[0]: "zz" is not in the vocabulary' - \
  "$ZILI" tokenize --tokenizer tj-merge.json --text hi
case_ 59 "not valid UTF-8: byte 0xFF at byte offset 2" - \
  "$ZILI" tokenize --tokenizer tj-good.json --text-file not-utf8.txt

# --- the catalogue and this test cover the same cases -----------------------------------------
listed=$(sed -n 's/^| \([0-9][0-9]*\) |.*/\1/p' "$CATALOGUE" | sort -n | tr '\n' ' ')
tested=$(printf '%s\n' "${ran[@]}" | sort -n | tr '\n' ' ')
expect_equal "docs/errors.md lists exactly the cases run here" "$listed" "$tested"
[ "${#ran[@]}" -ge 40 ] && pass "${#ran[@]} cases" || failed "only ${#ran[@]} cases"
finish
