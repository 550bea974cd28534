#!/usr/bin/env bash
# zili-bench (built beside zili) runs and says what it measured: the fields the GPU check's
# report and docs/perf.md read, finite and consistent; its mistakes are one line each.
source "$(dirname "$0")/lib.sh"
BENCH=$(dirname "$ZILI")/zili-bench

run_ok "gemm rate" "$BENCH" gemm --device cpu --n 256 --threads 1
cp out.txt gemm.json
python3 - gemm.json <<'PY' && pass "gemm record: positive FLOP/s" || failed "gemm record: $(cat gemm.json)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["bench"] == "gemm" and r["dtype"] == "float32" and r["n"] == 256 and r["flops_per_second"] > 1e8
PY

run_ok "dpo step, tiny" "$BENCH" dpo-step --device cpu --shape tiny --seq 32 --pairs 2 --steps 2 --warmup 1 --threads 1
cp out.txt step.json
python3 - step.json <<'PY' && pass "dpo-step record: consistent fields" || failed "dpo-step record: $(cat step.json)"
import json, math, sys
r = json.load(open(sys.argv[1]))
assert r["bench"] == "dpo_step" and r["shape"] == "tiny" and r["seq"] == 32 and r["pairs"] == 2
assert r["fused"] is False and r["dtype"] == "float32"
# 2 pairs of 32 tokens a step
assert abs(r["tokens_per_second"] * r["step_seconds"] - 128) < 1e-6 * 128
assert math.isfinite(r["first_loss"]) and 0 < r["first_loss"] < 5, r["first_loss"]
assert 0 < r["mfu"] == r["model_flops"] / r["step_seconds"] / r["gemm_flops_per_second"]
assert r["peak_mib"] > 50
PY

# The model FLOPs, worked out here by hand for the tiny shape: L 2, C 64, F 176, q 64, kv 32,
# V 32000, T 32, R 4 rows, N = 4 x 16 loss positions, r 16. The policy: forward + the frozen
# linears' and head's input gradients (2x), attention and LoRA (3x); the reference: one forward
# without LoRA, none with --precompute-ref.
run_ok "dpo step, precomputed reference" "$BENCH" dpo-step --device cpu --shape tiny --seq 32 --pairs 2 --steps 1 --warmup 0 --threads 1 --precompute-ref
cp out.txt noref.json
python3 - step.json noref.json <<'PY' && pass "model FLOPs as counted by hand, with and without the reference" || failed "FLOPs: $(cat step.json noref.json)"
import json, sys
with_ref, without = (json.load(open(p)) for p in sys.argv[1:])
L, C, F, q, kv, V, T, R, N, r = 2, 64, 176, 64, 32, 32000, 32, 4, 64, 16
per_token = C * q + C * kv + C * kv + q * C + C * F + C * F + F * C       # q k v o gate up down
lora = r * ((C + q) + (C + kv) + (C + kv) + (q + C) + (C + F) + (C + F) + (F + C))
lin = 2 * L * R * T * per_token
# QK^T and PV: 2 T^2 q multiply-adds a row and layer, half of them under the causal mask
attn = 2 * L * R * (2 * T * T * q // 2)
head, lora_fwd = 2 * N * C * V, 2 * L * R * T * lora
policy = 2 * (lin + head) + 3 * (attn + lora_fwd)
assert without["model_flops"] == policy, (without["model_flops"], policy)
assert with_ref["model_flops"] == policy + lin + attn + head, (with_ref["model_flops"], policy)
PY

# `flops` prints the same count without running the step (bench/run.sh's MFU).
run_ok "flops" "$BENCH" flops --shape tiny --seq 32 --pairs 2
cp out.txt flops.json
run_ok "flops, precomputed reference" "$BENCH" flops --shape tiny --seq 32 --pairs 2 --precompute-ref
cp out.txt flops-noref.json
python3 - step.json noref.json flops.json flops-noref.json <<'PY' && pass "flops: dpo-step's count" || failed "flops: $(cat flops.json flops-noref.json)"
import json, sys
with_ref, without, flops, flops_noref = (json.load(open(p)) for p in sys.argv[1:])
assert flops["bench"] == "flops" and flops["precompute_ref"] is False and flops_noref["precompute_ref"] is True
assert flops["model_flops"] == with_ref["model_flops"] and flops_noref["model_flops"] == without["model_flops"]
PY

expect_error "unknown shape" "--shape 13b: expected tiny, mini, small, medium, 1b or 7b" \
  "$BENCH" dpo-step --device cpu --shape 13b
expect_error "ops need a GPU" "ops: the fused kernels run on a GPU" "$BENCH" ops --device cpu
expect_error "a bad step count" "--steps >= 1" "$BENCH" dpo-step --device cpu --steps 0
finish
