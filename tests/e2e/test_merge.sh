#!/usr/bin/env bash
# `zili merge`: the merged checkpoint scores text as base + adapter does (fp32: to 1e-5 per
# token; bf16: to the bound below), sharded output loads through its index, and every
# mistake is one line with no output folder left behind.
source "$(dirname "$0")/lib.sh"

# within A B BOUND: prints "ok" when both record files score the same ids and every
# per-token log-probability differs by at most BOUND; else what differs.
within() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
if len(a) != len(b) or any(x["ids"] != y["ids"] for x, y in zip(a, b)):
    sys.exit(print("the records score different ids"))
diff = max(abs(p - q) for x, y in zip(a, b) for p, q in zip(x["token_logprobs"], y["token_logprobs"]))
print("ok" if diff <= float(sys.argv[3]) else f"max per-token difference {diff:.3g} > {sys.argv[3]}")
PY
}
# max_diff A B: the largest per-token log-probability difference, for the log.
max_diff() {
  python3 - "$1" "$2" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
print(max(abs(p - q) for x, y in zip(a, b) for p, q in zip(x["token_logprobs"], y["token_logprobs"])))
PY
}
# json_key FILE KEY: a top-level value of a JSON file.
json_key() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# no_leftovers NAME: no folder NAME and no temporary sibling of it.
no_leftovers() {
  if [ -e "$1" ] || ls -a | grep -q "^$1\.tmp"; then failed "$1 (or a temporary $1.tmp-*) left behind"
  else pass "nothing left under $1 after the error"; fi
}

"$ZILI" init --preset tiny --train-tokenizer "$CORPUS" --vocab-size 512 --out base >/dev/null 2>&1 \
  || { echo "FAILED: could not make the base model"; exit 1; }
run_ok "lora-init a random-B adapter on all linear layers" "$ZILI" lora-init --model base --out ad \
  --lora-targets all-linear --random-b 0.05 --seed 3
cat >texts.jsonl <<'EOF'
{"text": "The cat sat on the mat and looked out of the window."}
{"text": "Two and two make four; three and three make six."}
{"text": "A quiet river ran past the old mill, turning its wheel all day."}
EOF

# --- fp32: merged == base + adapter -------------------------------------------------------
run_ok "merge (fp32)" "$ZILI" merge --model base --adapter ad --out merged
for f in config.json model.safetensors tokenizer.model tokenizer_config.json special_tokens_map.json \
  generation_config.json; do
  [ -f "merged/$f" ] && pass "merge wrote $f" || failed "merge did not write $f"
done
cmp -s base/tokenizer.model merged/tokenizer.model && pass "tokenizer.model copied unchanged" \
  || failed "tokenizer.model differs from the base's"
expect_equal "config dtype of the fp32 merge" "$(json_key merged/config.json torch_dtype)" "float32"
ls -a | grep -q "^merged\.tmp" && failed "temporary folder left beside merged" || pass "no temporary folder left"

run_ok "eval the base" "$ZILI" eval --model base --data texts.jsonl --out b.jsonl --per-token
run_ok "eval base + adapter" "$ZILI" eval --model base --adapter ad --data texts.jsonl --out a.jsonl --per-token
run_ok "eval the merged model" "$ZILI" eval --model merged --data texts.jsonl --out m.jsonl --per-token
# Without this the comparison below could not fail: the adapter must move the numbers.
[ "$(within b.jsonl a.jsonl 1e-3)" != ok ] && pass "the adapter changes the log-probs (by $(max_diff b.jsonl a.jsonl))" \
  || failed "the adapter changes nothing: the merge test would pass vacuously"
expect_equal "merged == base + adapter to 1e-5 per token (max $(max_diff a.jsonl m.jsonl))" \
  "$(within a.jsonl m.jsonl 1e-5)" ok

# --- bf16 --------------------------------------------------------------------------------
# Rounding a weight to bf16 (8 significant bits) moves it by up to 2^-8 of its size (~0.0016
# rms). The terms of a dot product err with random signs, so a logit moves by ~0.0016 of its
# typical size plus what the rounded hidden states carry in: of order 1e-3 for this tiny random
# model, and a log-prob (a logit minus a log-sum-exp) as much. Measured: max 1.7e-3 (rms 6e-4)
# per token on these lines, 1.6e-3..2.7e-3 with five other seeds of base and adapter. The bound
# 1e-2 is ~4x the worst seen, and still ~40x below the adapter's effect checked above (~0.4).
run_ok "merge --dtype bf16" "$ZILI" merge --model base --adapter ad --out merged16 --dtype bf16
expect_equal "config dtype of the bf16 merge" "$(json_key merged16/config.json torch_dtype)" "bfloat16"
expect_equal "config dtype key of the bf16 merge" "$(json_key merged16/config.json dtype)" "bfloat16"
run_ok "eval the bf16 merge" "$ZILI" eval --model merged16 --data texts.jsonl --out m16.jsonl --per-token
expect_equal "bf16 merge == base + adapter to 1e-2 per token (max $(max_diff a.jsonl m16.jsonl))" \
  "$(within a.jsonl m16.jsonl 1e-2)" ok

# --- sharded -----------------------------------------------------------------------------
run_ok "merge sharded at 100KB" "$ZILI" merge --model base --adapter ad --out sharded --max-shard-size 100KB
shards=$(ls sharded/model-*-of-*.safetensors 2>/dev/null | wc -l)
[ -f sharded/model.safetensors.index.json ] && [ "$shards" -ge 3 ] && [ ! -e sharded/model.safetensors ] \
  && pass "sharded merge: an index and $shards shards" || failed "sharded merge: $(ls sharded)"
python3 - sharded <<'PY' && pass "index total_size and weight_map match the shards" || failed "index does not match the shards"
import json, os, struct, sys
d = sys.argv[1]
index = json.load(open(os.path.join(d, "model.safetensors.index.json")))
total, names = 0, {}
for f in sorted(os.listdir(d)):
    if f.startswith("model-"):
        with open(os.path.join(d, f), "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            header = json.loads(fh.read(n))
        for k, v in header.items():
            if k != "__metadata__":
                total += v["data_offsets"][1] - v["data_offsets"][0]
                names[k] = f
sys.exit(0 if index["metadata"]["total_size"] == total and index["weight_map"] == names else 1)
PY
run_ok "eval the sharded merge" "$ZILI" eval --model sharded --data texts.jsonl --out s.jsonl --per-token
expect_equal "sharded merge scores as the single-file one" "$(within m.jsonl s.jsonl 0)" ok

# --- errors ------------------------------------------------------------------------------
before=$(cd merged && md5sum * | md5sum)
expect_error "existing --out without --force" "merged: folder exists and is not empty; pass --force" \
  "$ZILI" merge --model base --adapter ad --out merged --dtype bf16
expect_equal "the existing --out is unchanged" "$(cd merged && md5sum * | md5sum)" "$before"
run_ok "--force replaces an existing --out" "$ZILI" merge --model base --adapter ad --out merged --dtype bf16 --force
expect_equal "--force wrote the new dtype" "$(json_key merged/config.json torch_dtype)" "bfloat16"

"$ZILI" init --preset small --dtype bf16 --tokenizer base/tokenizer.model --out small >/dev/null 2>&1 \
  || { failed "could not make the small model"; finish; }
expect_error "adapter of another model" \
  "tensor base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight has shape [8, 64] but the base's model.layers.0.self_attn.q_proj.weight [512, 512] with r = 8 needs [8, 512]" \
  "$ZILI" merge --model small --adapter ad --out wrong
no_leftovers wrong

cp -r ad partial && python3 - partial/adapter_model.safetensors <<'PY'
# Drop one tensor (layer 1's down_proj B) from the adapter file, keeping the format valid.
import json, struct, sys
path = sys.argv[1]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
drop = "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"
out, parts, offset = {}, [], 0
for k, v in sorted(((k, v) for k, v in header.items() if k not in ("__metadata__", drop)),
                   key=lambda kv: kv[1]["data_offsets"][0]):
    b, e = v["data_offsets"]
    parts.append(data[b:e])
    out[k] = dict(v, data_offsets=[offset, offset + e - b])
    offset += e - b
text = json.dumps(out).encode()
text += b" " * (-len(text) % 8)
open(path, "wb").write(struct.pack("<Q", len(text)) + text + b"".join(parts))
PY
expect_error "adapter missing a tensor" "no tensor base_model.model.model.layers.1.mlp.down_proj.lora_B.weight" \
  "$ZILI" merge --model base --adapter partial --out part
no_leftovers part

expect_error "missing adapter folder" "no-such-adapter" "$ZILI" merge --model base --adapter no-such-adapter --out x
no_leftovers x
expect_error "missing base folder" "no-such-base" "$ZILI" merge --model no-such-base --adapter ad --out x
expect_error "bad --dtype" 'dtype "f8"' "$ZILI" merge --model base --adapter ad --out x --dtype f8
no_leftovers x
expect_error "bad --max-shard-size" "--max-shard-size" \
  "$ZILI" merge --model base --adapter ad --out x --max-shard-size lots
expect_error "--out is the base" "holds the input" \
  "$ZILI" merge --model base --adapter ad --out base --force
[ -f base/model.safetensors ] && pass "the base survives --out base --force" || failed "the base was replaced"
mkdir -p nest && cp -r ad nest/ad
expect_error "--out holds the adapter" "holds the input nest/ad" \
  "$ZILI" merge --model base --adapter nest/ad --out nest --force
[ -f nest/ad/adapter_model.safetensors ] && pass "the adapter survives" || failed "the adapter was deleted"
finish
