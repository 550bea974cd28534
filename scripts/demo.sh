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
export LC_ALL=C
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

# Before and after, with python3 (the system one; zili itself never needs Python) for the
# JSON and the table.
python3 - "$zili" "$base" "$out" "$demo/dpo-eval.jsonl" "$root/scripts" <<'PY'
import importlib.util, json, subprocess, sys
zili, base, out, pairs, scripts = sys.argv[1:]
# The filler the SFT data pads replies with: scripts/make-demo-data.py's PREAMBLES.
spec = importlib.util.spec_from_file_location("demo_data", f"{scripts}/make-demo-data.py")
demo_data = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo_data)
PREAMBLES = demo_data.PREAMBLES
models = {"base": ["--model", base], "SFT": ["--model", base, "--adapter", f"{out}/sft/adapter"],
          "DPO": ["--model", f"{out}/dpo-merged"]}

def zili_run(*args):
    """stdout of a zili command; its one-line error and exit code when it fails."""
    result = subprocess.run([zili, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"zili {args[0]} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout

print(f"\n== Before and after, on the {sum(1 for _ in open(pairs))} held-out pairs of {pairs}")
print("(questions no SFT or DPO training line asks; the base saw their facts in pretraining)")
print(f"{'model':6} {'prefers chosen':>15} {'log-prob chosen':>16} {'log-prob rejected':>18}")
for name, flags in models.items():
    text = zili_run("eval", *flags, "--data", pairs, "--out", f"{out}/eval-{name.lower()}.jsonl")
    summary = json.loads(text.splitlines()[-1].removeprefix("overall: "))
    print(f"{name:6} {summary['prefers_chosen']:15.3f} {summary['logps/chosen']:16.2f} "
          f"{summary['logps/rejected']:18.2f}")
print("prefers chosen: the share of pairs whose preferred (direct) reply the model gives the\n"
      "higher log-probability. A sum over tokens: the shorter reply has an edge.")
evals = [json.loads(l) for l in open(f"{out}/dpo/metrics.jsonl") if '"eval_loss"' in l]
print(f"DPO against its reference, the SFT model, on the same pairs: reward accuracy "
      f"{evals[-1]['eval_rewards/accuracies']:.3f}, margin {evals[-1]['eval_rewards/margins']:.3f}\n"
      f"(both 0 before the first step: the policy starts as the reference)")

print("\n== Replies to the held-out questions (greedy; zili generate --chat)")
rows = []
for line in open(pairs):
    pair = json.loads(line)
    question, right = pair["prompt"][-1]["content"], pair["chosen"][0]["content"]
    replies = {name: zili_run("generate", *flags, "--chat", "--prompt", question,
                              "--max-new-tokens", "48").strip() for name, flags in models.items()}
    rows.append({"question": question, "right": right, "replies": replies})
with open(f"{out}/replies.jsonl", "w") as f:
    f.writelines(json.dumps(row) + "\n" for row in rows)
for name in ("SFT", "DPO"):
    padded = sum(row["replies"][name].startswith(tuple(PREAMBLES)) for row in rows)
    right = sum(row["right"] in row["replies"][name] for row in rows)
    print(f"{name}: {padded}/{len(rows)} replies padded with filler, "
          f"{right}/{len(rows)} with the right answer")
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
