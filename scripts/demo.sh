#!/usr/bin/env bash
# The README's first command: set up and build (scripts/build.sh), then zili's main job on
# the bundled default, a few minutes on 2 CPU cores:
#   1. zili sft: a LoRA adapter on data/demo/base (a 3.4M-parameter Llama the repo carries,
#      made by recipes/demo/make-base.sh) from data/demo/sft-train.jsonl, chat data whose
#      replies mostly pad the answer with filler;
#   2. zili dpo: from that adapter, on pairs that prefer the direct answer
#      (data/demo/dpo-train.jsonl), with the SFT model as the frozen reference;
#   3. zili merge: the aligned model as a standalone checkpoint;
#   4. before and after, on 40 held-out questions (data/demo/dpo-eval.jsonl): how often each
#      model ranks the preferred reply higher, DPO's reward accuracy and margin, how many
#      replies of the SFT and DPO models are padded and how many right, and the replies of
#      the base, SFT and DPO models side by side;
#   5. zili plot: the training curves as an SVG file.
#   scripts/demo.sh [OUTPUT_FOLDER]      (default: build/demo; its sft/, dpo/, dpo-merged/
#                                         and the files below are replaced)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh"
zili="$root/build/zili"
demo="$root/data/demo"
base="$demo/base"
out=${1:-$root/build/demo}
mkdir -p "$out"
rm -rf "$out/sft" "$out/dpo" "$out/dpo-merged"
start=$SECONDS

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }
# A key of the summary line of `zili eval` on a preference file.
summary_value() { sed -n 's/^overall: //p' "$1" | tr ',{}' '\n\n\n' | sed -n "s|^\"$2\":||p"; }
# A key of the last evaluation line of a run's metrics.jsonl.
last_eval_value() {
  grep '"eval_loss"' "$1/metrics.jsonl" | tail -1 | tr ',{}' '\n\n\n' | sed -n "s|^\"$2\":||p"
}

step "The base model the repo carries" "$zili" inspect "$base"
step "SFT: a LoRA adapter on the chat data (70% of its replies are padded with filler)" \
  "$zili" sft --config "$root/recipes/demo/sft.toml" --model "$base" \
  --data "$demo/sft-train.jsonl" --eval-data "$demo/sft-eval.jsonl" --out "$out/sft"
step "DPO from the SFT adapter: prefer the direct answer; the SFT model is the reference" \
  "$zili" dpo --config "$root/recipes/demo/dpo.toml" --model "$base" \
  --init-adapter "$out/sft/adapter" --data "$demo/dpo-train.jsonl" \
  --eval-data "$demo/dpo-eval.jsonl" --out "$out/dpo"
step "Merge the DPO adapter into a standalone checkpoint" \
  "$zili" merge --model "$base" --adapter "$out/dpo/adapter" --out "$out/dpo-merged" --force

printf '\n== Before and after, on the 40 held-out pairs of %s\n' "$demo/dpo-eval.jsonl"
"$zili" eval --model "$base" --data "$demo/dpo-eval.jsonl" --out "$out/eval-base.jsonl" \
  >"$out/eval-base.txt" 2>/dev/null
"$zili" eval --model "$base" --adapter "$out/sft/adapter" --data "$demo/dpo-eval.jsonl" \
  --out "$out/eval-sft.jsonl" >"$out/eval-sft.txt" 2>/dev/null
"$zili" eval --model "$out/dpo-merged" --data "$demo/dpo-eval.jsonl" \
  --out "$out/eval-dpo.jsonl" >"$out/eval-dpo.txt" 2>/dev/null
printf '%-6s %-16s %-22s %-22s\n' model "prefers chosen" "log-prob of chosen" "log-prob of rejected"
for model in base sft dpo; do
  printf '%-6s %-16.3f %-22.2f %-22.2f\n' "$model" \
    "$(summary_value "$out/eval-$model.txt" prefers_chosen)" \
    "$(summary_value "$out/eval-$model.txt" logps/chosen)" \
    "$(summary_value "$out/eval-$model.txt" logps/rejected)"
done
printf '(prefers chosen: the share of pairs where the model gives the preferred reply the higher\n'
printf ' log-probability. The base never saw the filler, so the shorter, direct reply wins most\n'
printf ' pairs; SFT learns the filler, DPO unlearns it. Per-pair records: %s/eval-*.jsonl)\n' "$out"
printf '\nDPO against its reference (the SFT model): reward accuracy 0 and margin 0 before the first\n'
printf 'step, by definition; after training, on the held-out pairs: reward accuracy %.3f, margin %.3f\n' \
  "$(last_eval_value "$out/dpo" eval_rewards/accuracies)" \
  "$(last_eval_value "$out/dpo" eval_rewards/margins)"

printf '\n== Replies to the 40 held-out questions (greedy; zili generate --chat)\n'
# The questions and right answers come out of the JSONL with python3 (the system one: zili
# itself never needs Python); every reply goes to replies.jsonl.
python3 - "$zili" "$base" "$out" "$demo/dpo-eval.jsonl" <<'PY'
import json, subprocess, sys
zili, base, out, pairs = sys.argv[1:]
models = {"base": ["--model", base], "SFT": ["--model", base, "--adapter", f"{out}/sft/adapter"],
          "DPO": ["--model", f"{out}/dpo-merged"]}
fillers = ("Well, let me think", "That is a very good question", "Hmm, let me see")
rows = []
for line in open(pairs):
    pair = json.loads(line)
    question, right = pair["prompt"][-1]["content"], pair["chosen"][0]["content"]
    replies = {name: subprocess.run([zili, "generate", *flags, "--chat", "--prompt", question,
                                     "--max-new-tokens", "48"], capture_output=True, text=True,
                                    check=True).stdout.strip() for name, flags in models.items()}
    rows.append({"question": question, "right": right, "replies": replies})
with open(f"{out}/replies.jsonl", "w") as f:
    f.writelines(json.dumps(row) + "\n" for row in rows)
for name in ("SFT", "DPO"):
    padded = sum(row["replies"][name].startswith(fillers) for row in rows)
    right = sum(row["right"] in row["replies"][name] for row in rows)
    print(f"{name}: {padded}/{len(rows)} replies padded with filler, {right}/{len(rows)} with the right answer")
for row in rows[:5]:  # the first five of the file, as they come
    print(f"\nQ: {row['question']}   (right: {row['right']})")
    for name, reply in row["replies"].items():
        # The base was never taught the chat format: it rambles on; its first line will do.
        print(f"  {name + ':':5} {reply.splitlines()[0][:130] if reply else ''}")
PY

step "The training curves" "$zili" plot "$out/sft" "$out/dpo" --out "$out/curves.svg"
printf '\nDemo done in %d s after the build. Outputs in %s: sft/ and dpo/ (run folders:\n' \
  $((SECONDS - start)) "$out"
printf 'config.toml, metrics.jsonl, adapter/), dpo-merged/ (a Hugging Face checkpoint),\n'
printf 'eval-*.jsonl (per-pair log-probs), replies.jsonl (every reply), curves.svg (open it in\n'
printf 'a browser).\n'
