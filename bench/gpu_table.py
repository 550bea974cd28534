#!/usr/bin/env python3
"""The GPU check's report (scripts/gpu-check.sh): zili-bench's JSON lines and the GPU tests'
ctest log as Markdown tables, with the GPU, the versions, the date and the command.

    python3 bench/gpu_table.py --results R.jsonl --tests-log L.log --command "..." > report.md

Only the standard library (and torch, for its version, when importable)."""
import argparse
import datetime
import json
import re
import subprocess


def shell(command):
    try:
        return subprocess.run(command, shell=True, capture_output=True, text=True,
                              timeout=60).stdout.strip()
    except Exception as error:  # a report without that line beats no report
        return f"({error})"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def test_rows(log):
    """ctest's result line per GPU test binary, with Catch2's count of its assertions."""
    rows, counts = [], {}
    for number, summary in re.findall(r"^(\d+): (All tests passed.*|test cases:.*)$", log, re.M):
        counts[number] = summary.strip()
    for number, name, result in re.findall(
            r"^\s*\d+/\d+ Test +#(\d+): (\S+(?: \S+)?) \.+\**\s*(\S.*?)\s+[\d.]+ sec", log, re.M):
        rows.append([name, result, counts.get(number, "")])
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("--tests-log", required=True)
    parser.add_argument("--command", default="scripts/gpu-check.sh")
    parser.add_argument("--python", default="python3")
    parser.add_argument("--nvcc", default="nvcc")
    args = parser.parse_args()
    records = [json.loads(line) for line in open(args.results) if line.strip()]
    log = open(args.tests_log, errors="replace").read()

    out = ["# GPU check", ""]
    out.append(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    out.append(f"- GPU: {shell('nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader')}")
    nvcc = shell(args.nvcc + " --version | tail -2 | head -1")
    torch_version = shell(args.python + " -c 'import torch; print(torch.__version__)'")
    out.append(f"- nvcc: {nvcc}")
    out.append(f"- torch: {torch_version}")
    out.append(f"- commit: {shell('git rev-parse --short HEAD')} ({shell('git status --porcelain | wc -l')} files changed)")
    out.append(f"- command: `{args.command}`")

    out += ["", "## Parity (ctest -L gpu)", ""]
    rows = test_rows(log)
    out.append(table(["test", "result", "assertions"], rows) if rows else
               "No test results found in the log:\n\n```\n" + log[-3000:] + "\n```")

    gemm = [r for r in records if r["bench"] == "gemm"]
    if gemm:
        out += ["", "## Matrix-product rate (the MFU denominator)", ""]
        out.append(table(["dtype", "n", "TFLOP/s"],
                         [[r["dtype"], r["n"], f"{r['flops_per_second'] / 1e12:.1f}"] for r in gemm]))

    ops = [r for r in records if r["bench"] == "fused_op"]
    if ops:
        out += ["", "## Fused ops vs their references (forward + backward, median of 20)", ""]
        rows = []
        for r in ops:
            if "fused_gb_per_s" in r:
                rate = f"{r['fused_gb_per_s']:.0f} / {r['reference_gb_per_s']:.0f} GB/s"
            else:
                rate = f"{r['fused_tflop_per_s']:.1f} / {r['reference_tflop_per_s']:.1f} TFLOP/s"
            rows.append([r["op"], r["shape"], r["dtype"], f"{r['fused_ms']:.3f}",
                         f"{r['reference_ms']:.3f}", f"{r['speedup']:.2f}x", rate])
        out.append(table(["op", "shape", "dtype", "fused ms", "reference ms", "speedup",
                          "fused / reference rate"], rows))

    steps = [r for r in records if r["bench"] == "dpo_step"]
    if steps:
        out += ["", "## DPO step (sigmoid, LoRA r=16 on all linear layers, random weights)", ""]
        rows = [[r["shape"], r["seq"], r["pairs"], r["dtype"], "fused" if r["fused"] else "--no-fused",
                 f"{r['step_seconds']:.3f}", f"{r['tokens_per_second']:.0f}",
                 f"{r['peak_mib'] / 1024:.1f}", f"{r['model_flops'] / r['step_seconds'] / 1e12:.0f}",
                 f"{r['gemm_flops_per_second'] / 1e12:.0f}", f"{100 * r['mfu']:.1f}%",
                 f"{r['first_loss']:.6f}"]
                for r in steps]
        out.append(table(["shape", "seq", "pairs", "dtype", "kernels", "step s", "tokens/s",
                          "peak GiB", "model TFLOP/s", "GEMM TFLOP/s", "MFU", "first loss"], rows))
        out.append("")
        out.append("MFU: the step's model FLOPs (docs/perf.md gives the formula) over its time, over "
                   "the compute dtype's matrix-product rate that the same zili-bench process "
                   "measured first (GEMM TFLOP/s).")
    print("\n".join(out))


if __name__ == "__main__":
    main()
