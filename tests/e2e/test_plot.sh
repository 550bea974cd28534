#!/usr/bin/env bash
# `zili plot` on hand-written metrics.jsonl files: an SFT-like run (loss and eval loss) and a
# DPO-like run (with reward accuracy and margin), one and several runs, and its errors.
source "$(dirname "$0")/lib.sh"

mkdir -p sft dpo notrun empty bad
cat >sft/metrics.jsonl <<'JSONL'
{"step": 1, "epoch": 0.1, "loss": 2.5, "lr": 0.0001}
{"step": 2, "epoch": 0.2, "loss": 2.1, "lr": 0.0001}
{"step": 2, "eval_loss": 2.3, "eval_examples": 4}
{"step": 3, "epoch": 0.3, "loss": 1.8, "lr": 0.0001}
{"step": 4, "epoch": 0.4, "loss": 1.6, "lr": 0.0001}
{"step": 4, "eval_loss": 1.9, "eval_examples": 4}
JSONL
cat >dpo/metrics.jsonl <<'JSONL'
{"step": 1, "loss": 0.693, "rewards/accuracies": 0.5, "rewards/margins": 0.0}
{"step": 2, "loss": 0.61, "rewards/accuracies": 0.75, "rewards/margins": 0.2}
{"step": 3, "loss": 0.52, "rewards/accuracies": 0.875, "rewards/margins": 0.45}
{"step": 3, "eval_loss": 0.58, "eval_rewards/accuracies": 0.75, "eval_rewards/margins": 0.3}
JSONL

run_ok "plot an sft run" "$ZILI" plot sft
[ -f sft/curves.svg ] && pass "default output is RUN/curves.svg" || failed "no sft/curves.svg"
head -c 4 sft/curves.svg | grep -q '^<svg' && pass "sft svg starts with <svg" || failed "sft svg start: $(head -c 40 sft/curves.svg)"
expect_equal "sft: one train line" "$(grep -c '<polyline' sft/curves.svg)" "1"
expect_equal "sft: one eval series" "$(grep -c '<path class="eval" fill="[^"]*" d="[^"]*"><title>' sft/curves.svg)" "1"
grep -q 'class="title">loss<' sft/curves.svg && pass "sft has the loss panel" || failed "sft lacks the loss panel"
grep -q 'reward' sft/curves.svg && failed "sft has reward panels" || pass "sft has no reward panels"
ls sft | grep -q tmp && failed "temporary files left in sft/" || pass "no temporary files left"

run_ok "plot a dpo run to --out" "$ZILI" plot dpo --out dpo.svg
for title in "loss" "reward accuracy" "reward margin"; do
  grep -q "class=\"title\">$title<" dpo.svg && pass "dpo has the $title panel" || failed "dpo lacks the $title panel"
done
expect_equal "dpo: a train line per panel" "$(grep -c '<polyline' dpo.svg)" "3"
expect_equal "dpo: an eval series per panel" "$(grep -c '<title>dpo eval</title>' dpo.svg)" "3"

run_ok "plot two runs" "$ZILI" plot sft dpo --out both.svg
head -c 4 both.svg | grep -q '^<svg' && pass "two-run svg starts with <svg" || failed "both.svg start"
expect_equal "two runs: train lines (2 loss + 2 reward)" "$(grep -c '<polyline' both.svg)" "4"
grep -q '<text[^>]*>sft</text>' both.svg && grep -q '<text[^>]*>dpo</text>' both.svg \
  && pass "legend names both runs" || failed "legend lacks run names"
"$ZILI" plot sft dpo --out both2.svg >/dev/null 2>&1
cmp -s both.svg both2.svg && pass "output is deterministic" || failed "two plots of the same runs differ"
python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' both.svg \
  && pass "svg is well-formed XML" || failed "svg is not well-formed XML"

expect_error "no metrics.jsonl" "not a run folder" "$ZILI" plot notrun
expect_error "missing folder" "no such folder" "$ZILI" plot nowhere
printf '{"step": 1, "loss": 2.0}\n{"step": 2, "loss": \n' >bad/metrics.jsonl
expect_error "malformed line" "bad/metrics.jsonl:2" "$ZILI" plot bad
printf '{"step": 1, "lr": 0.1}\n' >empty/metrics.jsonl
expect_error "no numeric data" "no numeric loss" "$ZILI" plot empty
expect_error "several runs need --out" "--out" "$ZILI" plot sft dpo
finish
