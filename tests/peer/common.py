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


# The families beyond Llama, each as a tiny config with its options on: windows shorter than
# the test texts, Gemma 2's caps small enough to bite, Qwen3's head_dim != hidden / heads.
FAMILIES = ("mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3")


def family_config(family, **overrides):
    import transformers
    fields = dict(vocab_size=512, hidden_size=64, intermediate_size=112, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, initializer_range=0.3)
    extra = {
        "llama": ("LlamaConfig", "LlamaForCausalLM", {}),
        "mistral": ("MistralConfig", "MistralForCausalLM", dict(head_dim=24, sliding_window=7)),
        "qwen2": ("Qwen2Config", "Qwen2ForCausalLM",
                  dict(tie_word_embeddings=True, use_sliding_window=True, sliding_window=7,
                       max_window_layers=1)),
        "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", dict(head_dim=24)),
        "gemma2": ("Gemma2Config", "Gemma2ForCausalLM",
                   dict(head_dim=24, query_pre_attn_scalar=20, sliding_window=7,
                        attn_logit_softcapping=6.0, final_logit_softcapping=9.0)),
        "gemma3": ("Gemma3TextConfig", "Gemma3ForCausalLM",
                   dict(head_dim=24, query_pre_attn_scalar=20, sliding_window=7,
                        layer_types=["sliding_attention", "full_attention"])),
        "phi3": ("Phi3Config", "Phi3ForCausalLM", dict(sliding_window=7, pad_token_id=0)),
    }[family]
    fields.update(extra[2])
    fields.update(overrides)
    return getattr(transformers, extra[0])(architectures=[extra[1]], **fields)


def make_random_family(zili, work, family, tokenizer_dir, name=None):
    """WORK/NAME (default base-FAMILY): a tiny random model of `family` saved by transformers,
    drawn wide as make_random_llama's, its norm weights perturbed (Gemma's start at 0)."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(family_config(family))
    with torch.no_grad():
        for param_name, param in model.named_parameters():
            if "norm" in param_name or param_name.endswith("bias"):
                param.add_(0.3 * torch.randn_like(param))
    base_dir = Path(work) / (name or f"base-{family}")
    model.save_pretrained(base_dir)
    copy_tokenizer(tokenizer_dir, base_dir)
    return base_dir


def copy_tokenizer(src, dst):
    for name in TOKENIZER_FILES:
        shutil.copy(Path(src) / name, Path(dst) / name)


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
