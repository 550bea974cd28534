"""zili's per-token log-probs agree with Hugging Face transformers' own models of every family.

transformers builds tiny random models and saves them with save_pretrained (safetensors);
zili evaluates texts on them with `zili eval --per-token`, and transformers computes the
log-probabilities of the same ids. Every variant must agree to 1e-4 (fp32 compute on both
sides): GQA, tied and untied embeddings, rope_scaling llama3 and linear, biases and an
explicit head_dim, a sharded save, bf16 storage, Mistral's sliding window (texts longer
than the window), and a checkpoint written by `zili init` read back by transformers. The
other families: Mistral-Nemo's explicit head_dim; Qwen2 (q/k/v biases, tied embeddings, the
window on layers from max_window_layers on); Qwen3 (q/k norms, head_dim != hidden/heads);
Gemma 2 ((1 + w) norms, sandwich norms, GeGLU, scaled embeddings, query_pre_attn_scalar,
attention and final soft-caps, alternating windows); Gemma 3 (q/k norms, local/global RoPE
bases, linear scaling on global layers, layer_types); Phi-3 (fused qkv_proj/gate_up_proj, a
window on every layer); each also in bf16 storage and as written by `zili init --arch`.
"""
import json
import sys

import torch
from transformers import (AutoModelForCausalLM, Gemma2Config, Gemma3TextConfig, LlamaConfig,
                          MistralConfig, Phi3Config, Qwen2Config, Qwen3Config)

from common import copy_tokenizer, make_tokenizer_dir, parse_args, read_jsonl, run

TOLERANCE = 1e-4
TEXTS = [
    "The cat sat on the mat.",
    "Two plus three is five, and seven times six is 42.",
    "A",
    " leading and  double  spaces, then a very long tail: " + "blue green red yellow " * 12,
    "Ünïcödé and emoji 🙂 fall back to bytes.",
]


def small_config(cls, **overrides):
    fields = dict(vocab_size=512, hidden_size=64, intermediate_size=112, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2,
                  # Far larger than the usual 0.02, so that the predictions are far from uniform
                  # and every detail of the forward (RoPE, masks, norms) moves the numbers.
                  initializer_range=0.3)
    fields.update(overrides)
    return cls(**fields)


VARIANTS = {
    "llama-gqa": (small_config(LlamaConfig), {}),
    "llama-mha-tied": (small_config(LlamaConfig, num_key_value_heads=4, tie_word_embeddings=True), {}),
    "llama3-rope": (small_config(LlamaConfig, rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16}, rope_theta=500000.0), {}),
    "linear-rope": (small_config(LlamaConfig, rope_scaling={"rope_type": "linear", "factor": 2.5}), {}),
    "bias-headdim": (small_config(LlamaConfig, attention_bias=True, mlp_bias=True, head_dim=24), {}),
    "sharded": (small_config(LlamaConfig, num_hidden_layers=3), {"max_shard_size": "40KB"}),
    "bf16-storage": (small_config(LlamaConfig), {"dtype": torch.bfloat16}),
    "mistral-window": (small_config(MistralConfig, sliding_window=7), {}),
    "mistral-nemo": (small_config(MistralConfig, head_dim=24, sliding_window=None), {}),
    "qwen2": (small_config(Qwen2Config, tie_word_embeddings=True, use_sliding_window=True,
                           sliding_window=7, max_window_layers=1), {}),
    "qwen3": (small_config(Qwen3Config, head_dim=24), {}),
    "qwen3-bias-window": (small_config(Qwen3Config, head_dim=16, attention_bias=True,
                                       use_sliding_window=True, sliding_window=6,
                                       max_window_layers=0), {}),
    "gemma2": (small_config(Gemma2Config, head_dim=24, query_pre_attn_scalar=20, sliding_window=7,
                            attn_logit_softcapping=6.0, final_logit_softcapping=9.0,
                            num_hidden_layers=3), {}),
    "gemma3": (small_config(Gemma3TextConfig, head_dim=24, query_pre_attn_scalar=20,
                            sliding_window=7, num_hidden_layers=3,
                            layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                            rope_parameters={
                                "sliding_attention": {"rope_type": "default", "rope_theta": 100.0},
                                "full_attention": {"rope_type": "linear", "factor": 2.0,
                                                   "rope_theta": 10000.0}},
                            architectures=["Gemma3ForCausalLM"]), {}),
    "phi3": (small_config(Phi3Config, sliding_window=7, pad_token_id=0), {}),
}
# bf16 storage of every family beyond Llama.
for _label in ("qwen2", "qwen3", "gemma2", "gemma3", "phi3"):
    VARIANTS[f"{_label}-bf16"] = (type(VARIANTS[_label][0])(**VARIANTS[_label][0].to_dict()),
                                  {"dtype": torch.bfloat16})
INIT_ARCHS = ("mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3")


def reference_logprobs(model_dir, ids):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        tokens = torch.tensor([ids])
        logits = model(tokens).logits.float()[0, :-1]
        return torch.log_softmax(logits, -1).gather(-1, tokens[0, 1:, None])[:, 0]


def check(zili, model_dir, data, label, require_spread=True):
    out = model_dir.parent / f"{model_dir.name}-eval.jsonl"
    run([zili, "eval", "--model", model_dir, "--data", data, "--per-token", "--out", out,
         "--threads", 2])
    worst = 0.0
    spread = []
    for record in read_jsonl(out):
        ours = torch.tensor(record["token_logprobs"], dtype=torch.float32)
        theirs = reference_logprobs(model_dir, record["ids"])
        assert ours.shape == theirs.shape, f"{label}: {ours.shape} vs {theirs.shape}"
        worst = max(worst, (ours - theirs).abs().max().item() if len(ours) else 0.0)
        spread.extend(theirs.tolist())
    # A model whose predictions are all about -log(V) would agree with anything: require the
    # reference log-probs to vary by whole nats, so a wrong forward shows.
    spread = torch.tensor(spread).std().item()
    status = "ok" if worst <= TOLERANCE and (spread > 1.0 or not require_spread) else "MISMATCH"
    print(f"{label:16s} max |zili - transformers| = {worst:.2e}  "
          f"(std of reference log-probs {spread:.2f})  {status}")
    return status == "ok"


def main():
    zili, work = parse_args()
    torch.manual_seed(0)
    tokenizer_dir = make_tokenizer_dir(zili, work)
    data = work / "texts.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))

    ok = True
    for label, (config, save) in VARIANTS.items():
        if not config.architectures:
            config.architectures = [type(config).__name__.replace("Config", "ForCausalLM")]
        model = AutoModelForCausalLM.from_config(config)
        # Norm weights start at 1 and biases at 0: perturb them so they are really tested.
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "norm" in name or name.endswith("bias"):
                    param.add_(0.3 * torch.randn_like(param))
        model_dir = work / label
        model.to(save.get("dtype", torch.float32)).save_pretrained(
            model_dir, max_shard_size=save.get("max_shard_size", "5GB"))
        copy_tokenizer(tokenizer_dir, model_dir)
        if label == "sharded":
            assert (model_dir / "model.safetensors.index.json").exists(), "expected a sharded save"
        ok &= check(zili, model_dir, data, label)

    # The other direction: a checkpoint zili writes loads in transformers with the same numbers.
    zili_dir = work / "zili-init"
    run([zili, "init", "--preset", "tiny", "--tokenizer", tokenizer_dir / "tokenizer.model",
         "--out", zili_dir, "--seed", 7])
    _, info = AutoModelForCausalLM.from_pretrained(zili_dir, output_loading_info=True)
    if any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")):
        print(f"zili-init: transformers reports {info}")
        ok = False
    # zili init uses transformers' 0.02 initializer, so its predictions are near uniform and
    # the spread requirement does not apply; the variants above test the forward itself.
    ok &= check(zili, zili_dir, data, "zili-init", require_spread=False)
    for arch in INIT_ARCHS:
        arch_dir = work / f"zili-init-{arch}"
        run([zili, "init", "--arch", arch, "--preset", "tiny", "--tokenizer",
             tokenizer_dir / "tokenizer.model", "--out", arch_dir, "--seed", 7])
        _, info = AutoModelForCausalLM.from_pretrained(arch_dir, output_loading_info=True)
        if any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")):
            print(f"zili-init-{arch}: transformers reports {info}")
            ok = False
        ok &= check(zili, arch_dir, data, f"zili-init-{arch}", require_spread=False)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
