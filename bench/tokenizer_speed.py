# tokenizer.json speed: zili (zili-bench tokenize) against Hugging Face tokenizers (Python, one
# thread: TOKENIZERS_PARALLELISM=false, RAYON_NUM_THREADS=1) on the same multi-MB text, for
# Mistral-Nemo's 131k tekken vocabulary converted by transformers and a Llama 3 style
# tokenizer trained here. A benchmark, not a test: it prints figures and ratios.
#   python bench/tokenizer_speed.py --zili-bench build/zili-bench --work DIR [--mb 4]
import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "peer"))
import test_tokenizer_json_parity as parity  # noqa: E402  (the peer test's tokenizers)
from tokenizers import Tokenizer  # noqa: E402


def make_text(mb):
    rng = random.Random(1)
    lines = parity.corpus_lines() + parity.STRINGS
    parts, size = [], 0
    while size < mb * 1_000_000:
        line = rng.choice(lines)
        parts.append(line)
        size += len(line.encode()) + 1
    return "\n".join(parts)


def python_side(path, text, repeats):
    loads = []
    for _ in range(3):
        start = time.perf_counter()
        Tokenizer.from_file(str(path))
        loads.append(time.perf_counter() - start)
    tok = Tokenizer.from_file(str(path))
    start = time.perf_counter()
    tokens = len(tok.encode(text, add_special_tokens=False).ids)
    first = time.perf_counter() - start
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        tok.encode(text, add_special_tokens=False)
        warm.append(time.perf_counter() - start)
    mb = len(text.encode()) / 1e6
    return {"impl": "tokenizers", "tokens": tokens, "load_seconds": sorted(loads)[1],
            "first_encode_mb_per_second": mb / first,
            "encode_mb_per_second": mb / sorted(warm)[len(warm) // 2]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zili-bench", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--mb", type=float, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    text_path = work / "text.txt"
    text = make_text(args.mb)
    text_path.write_text(text, encoding="utf-8")
    tokenizers = []
    real = parity.tekken(work)
    if real:
        tokenizers.append(("tekken-131k", real[1]))
    llama3, _ = parity.llama3()
    llama3.save(str(work / "llama3-style.json"))
    tokenizers.append(("llama3-style-1.5k", work / "llama3-style.json"))
    for name, path in tokenizers:
        z = json.loads(subprocess.run([args.zili_bench, "tokenize", "--tokenizer", path,
                                       "--text-file", text_path, "--repeats", str(args.repeats)],
                                      check=True, capture_output=True, text=True).stdout)
        p = python_side(path, text, args.repeats)
        if z["tokens"] != p["tokens"]:
            print(f"{name}: token counts differ: zili {z['tokens']}, tokenizers {p['tokens']}")
        print(json.dumps({"bench": "tokenize", "tokenizer": name, "text_mb": args.mb,
                          "zili": {k: z[k] for k in ("load_seconds", "first_encode_mb_per_second",
                                                     "encode_mb_per_second")},
                          "tokenizers": {k: p[k] for k in ("load_seconds",
                                                           "first_encode_mb_per_second",
                                                           "encode_mb_per_second")},
                          "encode_speedup": z["encode_mb_per_second"] / p["encode_mb_per_second"],
                          "load_speedup": p["load_seconds"] / z["load_seconds"]}))


if __name__ == "__main__":
    main()
