#!/usr/bin/env python3
# bench/run.sh's driver: `zili dpo` against TRL's DPOTrainer + PEFT (bench/baseline/trl_dpo.py)
# on the same checkpoints and pairs, alternating, then zili alone at longer sequences, and the
# load and merge of a ~1B checkpoint. Prints the tables (markdown) and writes them to
# WORK/table.md, with every measurement in WORK/results.json.
#
#   $ZILI_VENV/bin/python bench/compare_trl.py --zili build/zili --zili-bench build/zili-bench \
#       --work build/bench [--smoke] [--with-1b]
#
# What both sides get (bench/baseline/trl_dpo.py says what TRL is set to):
# - a checkpoint written by transformers' save_pretrained (bench/make_bench_inputs.py): a
#   LlamaForCausalLM in a zili preset's shape with Llama's vocabulary (32000 rows, as
#   `zili-bench --shape` has it), random weights, fp32, and the 512-piece tokenizer `zili init`
#   trains on data/tokenizer-corpus.txt;
# - pairs of exactly T tokens a row: the prompt T/2 (BOS included) and each completion T/2
#   (EOS included), so that nothing is truncated or padded and a step of P pairs is 2 P T
#   tokens on both sides (TRL's tokenization is checked to give that count);
# - LoRA r=16, alpha 32, dropout 0 on every linear layer; sigmoid loss, beta 0.1, lr 1e-6;
#   P = 2 pairs a step; `--threads` threads (default: the machine's cores).
# A row's time is the median of 5 step times (2 with --smoke) after 1 untimed step, each side
# in its own process; peak RSS is that process's (os.wait4's ru_maxrss, which starts at the
# RSS of the forking parent: this driver imports nothing heavy, ~15 MiB). MFU is zili-bench's
# model FLOPs count of the step (`zili-bench flops`, docs/perf.md) over the step time over the
# fp32 matrix-product rate `zili-bench gemm` measured at the start of the run.
# Both sides must do the same work: their first step's loss, logps/chosen and logps/rejected
# agree to 1e-3 (the log-probs, sums over a completion's tokens, to 1e-3 a token), or the row
# says MISMATCH and the exit status is 1. The loss is log 2 on both sides by construction (a
# fresh adapter's B is zero, so the policy is the reference); the log-probs are the check.
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[1]
CORPUS = SOURCE_DIR / "data" / "tokenizer-corpus.txt"
TRL_SCRIPT = SOURCE_DIR / "bench" / "baseline" / "trl_dpo.py"
SYNTHETIC = SOURCE_DIR / "bench" / "make_synthetic_checkpoint.py"
INPUTS_SCRIPT = SOURCE_DIR / "bench" / "make_bench_inputs.py"
PAIRS_PER_STEP = 2
TOLERANCE = 1e-3

# (preset, sequence length, variant): the side-by-side rows; then zili alone at longer sequences.
# The default takes ~14 minutes on 2 cores; --full adds medium at 256 and 1024 (~9 minutes more).
DEFAULT = {
    "rows": [("small", 256, ""), ("small", 512, ""), ("small", 1024, ""), ("medium", 512, ""),
             ("small", 512, "precompute-ref"), ("small", 512, "grad-checkpoint")],
    "full_rows": [("medium", 256, ""), ("medium", 1024, "")],
    "scaling_preset": "small", "scaling_extra": [2048],
    "warmup": 1, "steps": 5,
    # the ~1B checkpoint: TinyLlama-1.1B's shape (make_synthetic_checkpoint.py's default), bf16,
    # whose zili-bench shape is "1b"; its side-by-side row (--with-1b) is at seq 256
    "big": [], "big_shape": "1b", "big_row": ("big", 256, ""),
}
SMOKE = {
    "rows": [("tiny", 64, ""), ("tiny", 64, "precompute-ref"), ("tiny", 64, "grad-checkpoint")],
    "scaling_preset": "tiny", "scaling_extra": [128],
    "warmup": 1, "steps": 2,
    # the "big" checkpoint is tiny's shape here (zili-bench's "tiny", vocab 32000), and its
    # side-by-side row always runs, so that --with-1b's path is exercised too
    "big": ["--hidden-size", "64", "--intermediate-size", "176", "--layers", "2", "--heads", "4",
            "--kv-heads", "2"], "big_shape": "tiny", "big_row": ("big", 64, ""),
}


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cmd, **kwargs):
    """Runs a set-up command; a failure stops the bench with its stderr."""
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"compare_trl.py: failed ({result.returncode}): {' '.join(map(str, cmd))}\n"
                 f"{result.stderr[-3000:]}")
    return result.stdout


def measured(cmd, log_path):
    """Runs cmd in its own process: (wall seconds, peak RSS MiB). Output goes to log_path."""
    with open(log_path, "w") as out:
        start = time.perf_counter()
        process = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = Path(log_path).read_text()[-3000:]
        sys.exit(f"compare_trl.py: failed ({process.returncode}): {' '.join(map(str, cmd))}\n{tail}")
    return seconds, usage.ru_maxrss / 1024  # Linux: kilobytes


# --- inputs -----------------------------------------------------------------------------------

def make_tokenizer(zili, work):
    folder = work / "tokenizer"
    if not (folder / "tokenizer.model").exists():
        run([zili, "init", "--preset", "tiny", "--train-tokenizer", CORPUS, "--vocab-size", 512,
             "--out", folder, "--threads", 1])
    return folder


def make_checkpoint(a, tokenizer, preset):
    folder = a.work / preset
    run([sys.executable, INPUTS_SCRIPT, "checkpoint", "--zili", a.zili, "--tokenizer", tokenizer,
         "--preset", preset, "--out", folder])
    return folder


def make_pairs(a, model, seq, count):
    path = a.work / f"pairs-{model.name}-{seq}.jsonl"
    run([sys.executable, INPUTS_SCRIPT, "pairs", "--model", model, "--seq", seq,
         "--count", count, "--out", path])
    return path


# --- the two sides ----------------------------------------------------------------------------

def zili_row(a, model, pairs, seq, variant, label):
    run_dir = a.work / "runs" / f"zili-{label}"
    shutil.rmtree(run_dir, ignore_errors=True)
    cmd = [a.zili, "dpo", "--model", model, "--data", pairs, "--out", run_dir, "--device", "cpu",
           "--max-length", seq, "--batch-size", PAIRS_PER_STEP,
           "--max-steps", a.warmup + a.steps, "--log-every", 1, "--save-every", 0,
           "--lr", "1e-6", "--beta", 0.1, "--loss", "sigmoid", "--lora-r", 16,
           "--lora-alpha", 32, "--lora-dropout", 0, "--lora-targets", "all-linear",
           "--threads", a.threads]
    if variant:
        cmd.append(f"--{variant}")
    cmd += ["--dtype", "f32"]  # the ~1B checkpoint is bf16; both sides train on it in fp32
    wall, rss = measured(cmd, a.work / "runs" / f"zili-{label}.log")
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r and "elapsed_seconds" in r]
    ends = [0.0] + [r["elapsed_seconds"] for r in steps]
    seconds = [b - a_ for a_, b in zip(ends, ends[1:])]
    return {"side": "zili", "step_seconds": seconds[a.warmup:], "peak_rss_mib": rss,
            "wall_seconds": wall, "tokens_per_step": 2 * PAIRS_PER_STEP * seq,
            "first_step": {k: steps[0][k] for k in ("loss", "logps/chosen", "logps/rejected")}}


def trl_row(a, model, pairs, seq, variant, label):
    out = a.work / "runs" / f"trl-{label}.json"
    cmd = [sys.executable, TRL_SCRIPT, "--model", model, "--data", pairs, "--out", out,
           "--max-length", seq, "--batch-size", PAIRS_PER_STEP, "--warmup", a.warmup,
           "--steps", a.steps, "--threads", a.threads, "--work", a.work / "runs" / "trl-out"]
    if variant:
        cmd.append(f"--{variant}")
    wall, rss = measured(cmd, a.work / "runs" / f"trl-{label}.log")
    result = json.loads(out.read_text())
    result["peak_rss_mib"], result["wall_seconds"] = rss, wall
    return result


def flops(a, preset, seq, variant):
    cmd = [a.zili_bench, "flops", "--shape", preset, "--seq", seq, "--pairs", PAIRS_PER_STEP,
           "--lora-r", 16] + (["--precompute-ref"] if variant == "precompute-ref" else [])
    return json.loads(run(cmd))["model_flops"]


def summarize(side, model_flops, gemm_rate):
    step = statistics.median(side["step_seconds"])
    side["median_step_seconds"] = step
    side["tokens_per_second"] = side["tokens_per_step"] / step
    side["mfu"] = model_flops / step / gemm_rate
    return side


def agreement(zili, trl, seq):
    """The first step's largest difference over its allowance (<= 1: agree): 1e-3 on the loss,
    1e-3 a completion token on logps/chosen and logps/rejected (sums over the seq - seq/2
    completion tokens, whose fp32 rounding alone is ~1e-6 of their size)."""
    worst = 0.0
    for key in ("loss", "logps/chosen", "logps/rejected"):
        tokens = 1 if key == "loss" else seq - seq // 2
        diff = abs(zili["first_step"][key] - trl["first_step"][key]) / tokens
        worst = max(worst, diff / TOLERANCE)
    return worst


# --- load and merge of the big checkpoint -----------------------------------------------------

def big_checkpoint(a, tokenizer):
    """WORK/big: the ~1B bf16 checkpoint (bench/make_synthetic_checkpoint.py: TinyLlama-1.1B's
    shape, random weights, the tokenizer's files), made once a run."""
    folder = a.work / "big"
    if not a.big_made:
        shutil.rmtree(folder, ignore_errors=True)
        run([sys.executable, SYNTHETIC, "--tokenizer-from", tokenizer, "--out", folder]
            + a.mode["big"])
        a.big_made = True
    return folder


def parameter_count(folder):
    """The elements of every tensor in the folder's shards, from their safetensors headers."""
    total = 0
    for shard in folder.glob("*.safetensors"):
        with open(shard, "rb") as f:
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        for name, entry in header.items():
            if name != "__metadata__":
                count = 1
                for d in entry["shape"]:
                    count *= d
                total += count
    return total


def big_checkpoint_rows(a, tokenizer):
    """`zili inspect`, `zili eval` start-up and `zili merge` of the ~1B bf16 checkpoint, and
    what the same steps take in transformers and PEFT."""
    folder = big_checkpoint(a, tokenizer)
    adapter = a.work / "big-adapter"
    shutil.rmtree(adapter, ignore_errors=True)
    run([a.zili, "lora-init", "--model", folder, "--out", adapter, "--lora-targets", "all-linear",
         "--lora-r", 16, "--lora-alpha", 32, "--random-b", 0.01, "--seed", 1])
    one_line = a.work / "one-line.jsonl"
    one_line.write_text(json.dumps({"text": "The cat sat on the mat."}) + "\n")
    shards = sorted(folder.glob("*.safetensors"))
    size = sum(p.stat().st_size for p in shards)
    rows = []

    def add(what, cmd, out=None):
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)
        wall, rss = measured(cmd, a.work / "runs" / f"big-{len(rows)}.log")
        rows.append({"what": what, "wall_seconds": wall, "peak_rss_mib": rss})
        log(f"{what}: {wall:.2f} s, {rss:.0f} MiB")
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)

    add("read the shards once (cat > /dev/null, page cache warm)", ["cat"] + shards)
    add("`zili inspect`", [a.zili, "inspect", folder])
    add("`zili eval` of one line (load + forward)",
        [a.zili, "eval", "--model", folder, "--data", one_line, "--threads", a.threads,
         "--out", a.work / "eval.jsonl"])
    add("transformers `from_pretrained` (bf16)",
        [sys.executable, "-c", "import sys, torch; from transformers import AutoModelForCausalLM;"
         " AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.bfloat16)", folder])
    merged = a.work / "big-merged"
    add("`zili merge` (bf16 out)",
        [a.zili, "merge", "--model", folder, "--adapter", adapter, "--out", merged], merged)
    add("PEFT `merge_and_unload` + `save_pretrained` (bf16)",
        [sys.executable, "-c", "import sys, torch; from transformers import AutoModelForCausalLM;"
         " from peft import PeftModel; base = AutoModelForCausalLM.from_pretrained(sys.argv[1],"
         " dtype=torch.bfloat16); PeftModel.from_pretrained(base, sys.argv[2]).merge_and_unload()"
         ".save_pretrained(sys.argv[3])", folder, adapter, merged], merged)
    parameters = parameter_count(folder)
    shutil.rmtree(folder)
    return {"parameters": parameters, "bytes": size, "shards": len(shards), "rows": rows}


# --- the report -------------------------------------------------------------------------------

def machine():
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return f"{cpu}, {os.cpu_count()} cores, {memory} RAM, {platform.system()} {platform.release()}"


def ratio(a_, b):
    return f"{a_ / b:.2f}x" if b else "-"


def report(a, gemm_rate, rows, scaling, big, versions):
    lines = [f"zili against TRL {versions.get('trl', '?')} (transformers "
             f"{versions.get('transformers', '?')}, PEFT {versions.get('peft', '?')}, torch "
             f"{versions.get('torch', '?')}), {datetime.date.today()}",
             f"Machine: {machine()}; {a.threads} threads on both sides.",
             f"fp32 matrix-product rate (zili-bench gemm, n 2048): {gemm_rate / 1e9:.1f} GFLOP/s.",
             f"Each row: median of {a.steps} steps after {a.warmup} warm-up, 2 pairs a step "
             "(4 rows of `seq` tokens), LoRA r=16 on all linear layers.", "",
             "| model | seq | variant | zili tok/s | TRL tok/s | speed | zili peak RSS | "
             "TRL peak RSS | memory | zili MFU | TRL MFU | first step: largest difference |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        z, t = row["zili"], row["trl"]
        check = (f"agree ({row['agreement'] * TOLERANCE:.0e})" if row["agreement"] <= 1
                 else f"MISMATCH ({row['agreement'] * TOLERANCE:.0e})")
        lines.append(
            f"| {row['preset'] if row['preset'] != 'big' else a.mode['big_shape'] + ' (bf16 file)'}"
            f" | {row['seq']} | {row['variant'] or '-'} | "
            f"{z['tokens_per_second']:.0f} | {t['tokens_per_second']:.0f} | "
            f"{ratio(z['tokens_per_second'], t['tokens_per_second'])} | "
            f"{z['peak_rss_mib']:.0f} MiB | {t['peak_rss_mib']:.0f} MiB | "
            f"{ratio(z['peak_rss_mib'], t['peak_rss_mib'])} | {100 * z['mfu']:.0f}% | "
            f"{100 * t['mfu']:.0f}% | {check} |")
    lines += ["", f"zili alone against sequence length ({a.mode['scaling_preset']}, 2 pairs a step):",
              "", "| seq | tokens a step | step time | tok/s | peak RSS | MFU |", "|---|---|---|---|---|---|"]
    for s in scaling:
        lines.append(f"| {s['seq']} | {s['tokens_per_step']} | {s['median_step_seconds']:.2f} s | "
                     f"{s['tokens_per_second']:.0f} | {s['peak_rss_mib']:.0f} MiB | "
                     f"{100 * s['mfu']:.0f}% |")
    count = big["parameters"]
    size = f"{count / 1e9:.2f}B" if count >= 1e9 else f"{count / 1e6:.1f}M"
    lines += ["", f"A {size}-parameter bf16 checkpoint "
              f"({big['bytes'] / 1e9:.2f} GB in {big['shards']} shards, page cache warm), "
              "a LoRA r=16 adapter on all linear layers:", "",
              "| step | wall time | peak RSS |", "|---|---|---|"]
    for r in big["rows"]:
        lines.append(f"| {r['what']} | {r['wall_seconds']:.2f} s | {r['peak_rss_mib']:.0f} MiB |")
    return "\n".join(lines) + "\n"


def parse_args():
    parser = argparse.ArgumentParser(description="zili dpo against TRL's DPOTrainer + PEFT")
    parser.add_argument("--zili", required=True, type=Path)
    parser.add_argument("--zili-bench", required=True, type=Path)
    parser.add_argument("--work", required=True, type=Path, help="scratch folder, and the results")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--smoke", action="store_true",
                        help="the tiny preset, 2 timed steps: checks that the bench runs")
    parser.add_argument("--full", action="store_true",
                        help="also medium at seq 256 and 1024 (about 9 minutes more)")
    parser.add_argument("--with-1b", action="store_true",
                        help="also the side-by-side row of the ~1B shape at seq 256")
    a = parser.parse_args()
    a.mode = SMOKE if a.smoke else DEFAULT
    a.warmup, a.steps = a.mode["warmup"], a.mode["steps"]
    a.work = a.work.resolve()
    a.big_made = False
    return a


def main():
    a = parse_args()
    (a.work / "runs").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tokenizer = make_tokenizer(a.zili, a.work)
    gemm_rate = json.loads(run([a.zili_bench, "gemm", "--device", "cpu", "--n", 2048,
                                "--threads", a.threads]))["flops_per_second"]
    log(f"fp32 GEMM: {gemm_rate / 1e9:.1f} GFLOP/s on {a.threads} threads")

    rows_spec = list(a.mode["rows"])
    if a.full and not a.smoke:  # medium at 256, 512, 1024 in order, then the variants
        rows_spec = rows_spec[:3] + [a.mode["full_rows"][0], rows_spec[3],
                                     a.mode["full_rows"][1]] + rows_spec[4:]
    if a.with_1b or a.smoke:
        rows_spec.append(a.mode["big_row"])
    checkpoints, pair_files = {}, {}
    rows, versions = [], {}
    count = PAIRS_PER_STEP * (a.warmup + a.steps)
    for preset, seq, variant in rows_spec:
        if preset not in checkpoints:
            log(f"checkpoint: {preset}")
            checkpoints[preset] = (make_checkpoint(a, tokenizer, preset)
                                   if preset != "big" else big_checkpoint(a, tokenizer))
        if (preset, seq) not in pair_files:
            pair_files[(preset, seq)] = make_pairs(a, checkpoints[preset], seq, count)
        label = f"{preset}-{seq}" + (f"-{variant}" if variant else "")
        model, pairs = checkpoints[preset], pair_files[(preset, seq)]
        model_flops = flops(a, a.mode["big_shape"] if preset == "big" else preset, seq, variant)
        zili = summarize(zili_row(a, model, pairs, seq, variant, label), model_flops, gemm_rate)
        log(f"{label}: zili {zili['tokens_per_second']:.0f} tok/s, {zili['peak_rss_mib']:.0f} MiB")
        trl = summarize(trl_row(a, model, pairs, seq, variant, label), model_flops, gemm_rate)
        log(f"{label}: TRL  {trl['tokens_per_second']:.0f} tok/s, {trl['peak_rss_mib']:.0f} MiB")
        versions = trl.get("versions", versions)
        if trl["tokens_per_step"] != zili["tokens_per_step"]:
            sys.exit(f"compare_trl.py: TRL's step is {trl['tokens_per_step']} tokens, zili's "
                     f"{zili['tokens_per_step']}: the pairs of {pairs} are not {seq} tokens a row")
        rows.append({"preset": preset, "seq": seq, "variant": variant, "model_flops": model_flops,
                     "zili": zili, "trl": trl, "agreement": agreement(zili, trl, seq)})

    # zili alone: the table's sequence lengths at the scaling preset, and longer ones.
    scaling = []
    preset = a.mode["scaling_preset"]
    for row in rows:
        if row["preset"] == preset and not row["variant"]:
            scaling.append(dict(row["zili"], seq=row["seq"]))
    for seq in a.mode["scaling_extra"]:
        pairs = make_pairs(a, checkpoints[preset], seq, count)
        label = f"{preset}-{seq}"
        z = summarize(zili_row(a, checkpoints[preset], pairs, seq, "", label),
                      flops(a, preset, seq, ""), gemm_rate)
        log(f"{label}: zili {z['tokens_per_second']:.0f} tok/s, {z['peak_rss_mib']:.0f} MiB")
        scaling.append(dict(z, seq=seq))

    big = big_checkpoint_rows(a, tokenizer)
    text = report(a, gemm_rate, rows, scaling, big, versions)
    minutes = (time.perf_counter() - started) / 60
    text += f"\nThe whole bench took {minutes:.1f} minutes.\n"
    (a.work / "results.json").write_text(json.dumps(
        {"gemm_flops_per_second": gemm_rate, "rows": rows, "scaling": scaling, "big": big},
        indent=1) + "\n")
    (a.work / "table.md").write_text(text)
    print(text)
    bad = [f"{r['preset']}-{r['seq']}-{r['variant'] or 'plain'}" for r in rows if r["agreement"] > 1]
    if bad:
        sys.exit(f"compare_trl.py: zili and TRL disagree on the first step of {', '.join(bad)}"
                 f" (loss, logps: {a.work / 'results.json'})")


if __name__ == "__main__":
    main()
