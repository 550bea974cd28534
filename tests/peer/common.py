"""Shared helpers of the peer tests: argument parsing, running zili, a tokenizer folder."""
import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

SOURCE_DIR = Path(os.environ.get("ZILI_SOURCE_DIR", Path(__file__).resolve().parents[2]))
CORPUS = SOURCE_DIR / "data" / "tokenizer-corpus.txt"
TOKENIZER_FILES = ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zili", required=True, help="path to the zili binary")
    parser.add_argument("--work", required=True, help="scratch folder (emptied first)")
    args = parser.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return args.zili, work


def run(cmd, **kwargs):
    """Runs a command, failing the test with its stderr when it fails."""
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"command failed ({result.returncode}): {' '.join(map(str, cmd))}\n{result.stderr}")
    return result


def make_tokenizer_dir(zili, work, vocab_size=512):
    """A zili-initialised tiny model whose tokenizer files the other tests copy."""
    base = work / "tokenizer-base"
    run([zili, "init", "--preset", "tiny", "--train-tokenizer", CORPUS,
         "--vocab-size", vocab_size, "--out", base, "--threads", 1])
    return base


def make_random_llama(zili, work, tokenizer_dir=None):
    """WORK/base: a tiny random Llama saved by transformers, drawn wide (initializer_range 0.3)
    so that its predictions are far from uniform, with the tokenizer `zili init` trains (or
    the one in tokenizer_dir)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=112, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                         bos_token_id=1, eos_token_id=2, initializer_range=0.3,
                         architectures=["LlamaForCausalLM"])
    base_dir = Path(work) / "base"
    AutoModelForCausalLM.from_config(config).save_pretrained(base_dir)
    copy_tokenizer(tokenizer_dir or make_tokenizer_dir(zili, work), base_dir)
    return base_dir


def copy_tokenizer(src, dst):
    for name in TOKENIZER_FILES:
        shutil.copy(Path(src) / name, Path(dst) / name)


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
