#!/usr/bin/env python3
# A random bf16 Llama checkpoint of any size (default: the TinyLlama-1.1B shape) for the
# benchmarks, without a preset in zili: config.json, safetensors shards + index, and the
# tokenizer files copied from a zili init folder. Memory stays near one tensor.
#
#   $ZILI_VENV/bin/python bench/make_synthetic_checkpoint.py --tokenizer-from runs/tiny --out /tmp/synth-1b
#
# Tensors are streamed into each shard by hand (8-byte header length, JSON header, raw
# bytes): safetensors.torch.save_file needs a whole shard in memory at once. Each finished
# shard is then read back with the safetensors package, which checks its header and layout.
# Only numpy: importing torch alone would take ~650 MB; peak memory is ~100 MB.
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np
from safetensors import safe_open

TOKENIZER_FILES = ["tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                   "tokenizer.json", "generation_config.json"]


def parameter_shapes(c):
    """(name, shape) in the order transformers writes a LlamaForCausalLM."""
    C, F, D = c["hidden_size"], c["intermediate_size"], c["hidden_size"] // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * D, c["num_key_value_heads"] * D
    yield "model.embed_tokens.weight", [c["vocab_size"], C]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", [C]
        yield p + "self_attn.q_proj.weight", [q, C]
        yield p + "self_attn.k_proj.weight", [kv, C]
        yield p + "self_attn.v_proj.weight", [kv, C]
        yield p + "self_attn.o_proj.weight", [C, q]
        yield p + "post_attention_layernorm.weight", [C]
        yield p + "mlp.gate_proj.weight", [F, C]
        yield p + "mlp.up_proj.weight", [F, C]
        yield p + "mlp.down_proj.weight", [C, F]
    yield "model.norm.weight", [C]
    yield "lm_head.weight", [c["vocab_size"], C]


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def plan_shards(shapes, max_bytes):
    """Consecutive groups of at most max_bytes (bf16: 2 bytes an element), as transformers."""
    shards, current, size = [], [], 0
    for name, shape in shapes:
        nbytes = 2 * numel(shape)
        if current and size + nbytes > max_bytes:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape))
        size += nbytes
    if current:
        shards.append(current)
    return shards


CHUNK = 1 << 22  # elements generated at once: 16 MB of fp32
BF16_ONE = 0x3F80


def bf16_bits(x):
    """float32 array -> its bf16 bit patterns (uint16), rounded to nearest even as torch does
    (no NaN in random normals, so no NaN special case)."""
    bits = x.view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def write_random(f, name, shape, rng):
    """Norms 1, everything else N(0, 0.02^2) as transformers initialises Llama; bf16, written
    in chunks so that not even one whole tensor is in memory."""
    left = numel(shape)
    while left > 0:
        n = min(left, CHUNK)
        if name.endswith("norm.weight"):
            chunk = np.full(n, BF16_ONE, dtype=np.uint16)
        else:
            chunk = bf16_bits(rng.standard_normal(n, dtype=np.float32) * np.float32(0.02))
        f.write(chunk.tobytes())
        left -= n


def write_shard(path, tensors, rng):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in tensors:
        nbytes = 2 * numel(shape)
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name, shape in tensors:
            write_random(f, name, shape, rng)
    with safe_open(path, framework="numpy") as check:  # the reference reader accepts it
        assert sorted(check.keys()) == sorted(name for name, _ in tensors), path
    return offset


def main():
    parser = argparse.ArgumentParser(description="A random bf16 Llama checkpoint for the benchmarks")
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument("--tokenizer-from", required=True,
                        help="folder with tokenizer.model etc., e.g. from zili init")
    parser.add_argument("--hidden-size", type=int, default=2048)
    parser.add_argument("--intermediate-size", type=int, default=5632)
    parser.add_argument("--layers", type=int, default=22)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--vocab-size", type=int, default=32000)
    parser.add_argument("--max-shard-mb", type=int, default=500, help="largest shard, in MB")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if os.path.exists(args.out):
        sys.exit(f"{args.out}: exists; remove it or choose another --out")
    if not os.path.isfile(os.path.join(args.tokenizer_from, "tokenizer.model")):
        sys.exit(f"{args.tokenizer_from}: no tokenizer.model (give a zili init folder)")

    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": args.hidden_size, "intermediate_size": args.intermediate_size,
        "num_hidden_layers": args.layers, "num_attention_heads": args.heads,
        "num_key_value_heads": args.kv_heads, "vocab_size": args.vocab_size,
        "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "hidden_act": "silu", "tie_word_embeddings": False, "attention_bias": False,
        "mlp_bias": False, "bos_token_id": 1, "eos_token_id": 2,
        "torch_dtype": "bfloat16", "dtype": "bfloat16",
    }
    staging = args.out + ".tmp"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    rng = np.random.default_rng(args.seed)
    shards = plan_shards(list(parameter_shapes(config)), args.max_shard_mb * 1_000_000)
    weight_map, total = {}, 0
    for k, tensors in enumerate(shards):
        name = (f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors" if len(shards) > 1
                else "model.safetensors")
        total += write_shard(os.path.join(staging, name), tensors, rng)
        weight_map.update({t: name for t, _ in tensors})
        print(f"wrote {name} ({len(tensors)} tensors)", flush=True)
    if len(shards) > 1:
        with open(os.path.join(staging, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(staging, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for name in TOKENIZER_FILES:
        if os.path.isfile(os.path.join(args.tokenizer_from, name)) and name != "generation_config.json":
            shutil.copy(os.path.join(args.tokenizer_from, name), staging)
    with open(os.path.join(staging, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2}, f, indent=2)
    os.rename(staging, args.out)
    params = sum(numel(s) for _, s in parameter_shapes(config))
    print(f"{args.out}: {params / 1e9:.2f}B parameters, {total / 1e9:.2f} GB bf16 in {len(shards)} file(s)")


if __name__ == "__main__":
    main()
