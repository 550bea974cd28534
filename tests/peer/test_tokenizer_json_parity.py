# Peer test: zili's tokenizer.json reader against Hugging Face `tokenizers` itself.
#   python test_tokenizer_json_parity.py --zili build/zili --work SCRATCH_DIR
#
# One tokenizer per family is trained here with `tokenizers` (Llama 3 style Split + ByteLevel
# with ignore_merges and a TemplateProcessing BOS; Qwen2 style NFC + Split with single digits;
# GPT-2 ByteLevel with its own regex; Llama 2 style Prepend + Replace with byte fallback and
# unk; Llama 2 style Metaspace; a mixed one with Lowercase/NFKC/Strip/Digits/Punctuation/
# Whitespace), saved as tokenizer.json, and `zili tokenize --tokenizer FILE --jsonl` must give
# tokenizers' ids and decode for every string, special tokens in the text included. A
# WordPiece tokenizer must be refused with one line. Then a real 131k vocabulary: Mistral-Nemo's
# tekken_240718.json (from the mistral-common wheel in ZILI_CACHE/assets) converted by
# transformers' MistralConverter. Invalid UTF-8 must end in one clear error (exit 1).
# Exit 0: all equal; 1: a mismatch; 77: tokenizers is missing (skip).
import ast
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CORPUS, parse_args  # noqa: E402

try:
    from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                            pre_tokenizers, processors, trainers)
except ImportError as e:
    print(f"skip: {e}")
    sys.exit(77)

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

STRINGS = [
    "", "Hello world", "The cat sat on the mat.", " leading space", "trailing space ",
    "  two leading", "I'LL be there, WE'VE said; you're right, it's done. DON'T!",
    "Digits 1234567890 and 3.14159 and 2024-12-07, 1e10, ١٢٣ ४५६",
    "日本語のテキストと中文文本，还有한국어 텍스트。", "emoji 😀🎉 and ZWJ 👩‍👩‍👧‍👦 👨🏽‍💻 🏳️‍🌈",
    "combining: e\u0301 a\u0308 n\u0303 Å Å ﬁ ＡＢＣ ①", "RTL: שלום עולם مرحبا بالعالم",
    "mixed: Γειά σου Мир мир hello世界 café naïve", "tabs\tand\t\ttabs", "lines\n\nand\n\n\nmore",
    "windows\r\nline\r\nends\r\n", "spaces     between      words   ", "\n", " ", "\t\t",
    "code: def f(x):\n    return x ** 2  # square\n", "<html><body>&amp; &lt;</body></html>",
    "a" * 300, "ab" * 200 + " " + "z" * 50, "x\u00a0y\u2003z\u3000w", "\u0130stanbul \u03a3\u039f\u03a3",
    "ß ẞ ﬀ Ǆ ǅ ǆ", "\x00\x01\x7f control", "math ∑∫√∞ ≤≥ and arrows ←→",
]


def special_strings(specials):
    """Strings with each special token inside text, next to spaces and words."""
    out = []
    for s in specials:
        out += [s, f"{s}hello", f"hello{s}", f"a {s} b", f"a  {s}  b", f" {s}", f"{s} ",
                f"x{s}{s}y", f"{s}\n{s}"]
    return out


def corpus_lines():
    return CORPUS.read_text(encoding="utf-8").splitlines()


def train(tokenizer, trainer):
    lines = corpus_lines() + STRINGS * 3
    tokenizer.train_from_iterator(lines, trainer=trainer)
    return tokenizer


def byte_level_trainer(vocab_size, specials):
    return trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                               initial_alphabet=pre_tokenizers.ByteLevel.alphabet())


def llama3():
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    train(tok, byte_level_trainer(1500, specials))
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(
            single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
            special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))])])
    tok.add_special_tokens([AddedToken("<|mask|>", lstrip=True, special=True),
                            AddedToken("[R]", rstrip=True, special=True),
                            AddedToken("<both>", lstrip=True, rstrip=True, special=True)])
    tok.add_tokens([AddedToken("<word>", single_word=True, normalized=False), "plainadded"])
    return tok, specials + ["<|mask|>", "[R]", "<both>", "<word>", "plainadded"]


def qwen2():
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    train(tok, byte_level_trainer(1200, specials))
    return tok, specials


def gpt2():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    train(tok, byte_level_trainer(1000, ["<|endoftext|>"]))
    return tok, ["<|endoftext|>"]


def with_byte_fallback(tok):
    """Adds the 256 <0xNN> tokens to the model's vocab (as Llama 2's vocabulary has them) and
    turns byte_fallback on: tokenizers' trainer does not make them."""
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    for b in range(256):
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    spec["model"]["byte_fallback"] = True
    return Tokenizer.from_str(json.dumps(spec))


def llama2_prepend():
    specials = ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                           normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    train(tok, trainers.BpeTrainer(vocab_size=900, special_tokens=specials, limit_alphabet=150,
                                   show_progress=False))
    tok = with_byte_fallback(tok)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return tok, specials


def llama2_metaspace():
    specials = ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first",
                                                 split=True)
    tok.decoder = decoders.Sequence([decoders.Metaspace(replacement="\u2581",
                                                        prepend_scheme="first"),
                                     decoders.ByteFallback(), decoders.Fuse()])
    train(tok, trainers.BpeTrainer(vocab_size=900, special_tokens=specials, limit_alphabet=120,
                                   show_progress=False))
    return with_byte_fallback(tok), specials


def mixed():
    specials = ["[UNK]", "[SEP]"]
    tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##",
                               end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(),
                                           normalizers.Strip(left=True, right=False)])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.Punctuation(behavior="contiguous"), pre_tokenizers.Whitespace(),
        pre_tokenizers.Split("-", behavior="merged_with_next"),
        pre_tokenizers.Split(Regex(r"[aeiou]"), behavior="merged_with_previous", invert=True)])
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    train(tok, trainers.BpeTrainer(vocab_size=800, special_tokens=specials, limit_alphabet=100,
                                   continuing_subword_prefix="##", end_of_word_suffix="</w>",
                                   show_progress=False))
    tok.add_tokens([AddedToken("Mixed Case", normalized=True)])
    return tok, specials + ["Mixed Case", "mixed case"]


def zili_encode(zili, tokenizer_json, texts, work, name, extra=()):
    inp = work / f"{name}.in.jsonl"
    inp.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    result = subprocess.run([zili, "tokenize", "--tokenizer", tokenizer_json, "--jsonl", inp,
                             *extra], capture_output=True)
    if result.returncode != 0:
        sys.exit(f"{name}: zili tokenize failed ({result.returncode}):\n"
                 f"{result.stderr.decode(errors='replace')}")
    return [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]


def compare(zili, work, name, tok, texts, path=None):
    if path is None:
        path = work / f"{name}.json"
        tok.save(str(path))
    failures = 0
    for special in (True, False):
        extra = () if special else ("--no-special",)
        got = zili_encode(zili, path, texts, work, name, extra)
        for text, out in zip(texts, got):
            want = tok.encode(text, add_special_tokens=special).ids
            want_text = tok.decode(want, skip_special_tokens=False)
            if out["ids"] != want or out["decoded"] != want_text:
                failures += 1
                if failures <= 5:
                    print(f"{name}: MISMATCH (add_special_tokens={special}) on {text[:80]!r}\n"
                          f"  zili   {out['ids'][:40]} {out['decoded'][:80]!r}\n"
                          f"  tokens {want[:40]} {want_text[:80]!r}")
    skipped = zili_encode(zili, path, texts, work, name, ("--skip-special",))
    for text, out in zip(texts, skipped):
        want = tok.encode(text).ids
        if out["decoded"] != tok.decode(want, skip_special_tokens=True):
            failures += 1
            print(f"{name}: decode(skip_special_tokens) MISMATCH on {text[:80]!r}")
    print(f"{name}: {len(texts)} strings x (with, without specials, skip): "
          f"{'OK' if failures == 0 else f'{failures} mismatches'}")
    return failures


def megabyte_text():
    rng = random.Random(0)
    lines = corpus_lines() + STRINGS
    parts, size = [], 0
    while size < 1 << 20:
        line = rng.choice(lines)
        parts.append(line)
        size += len(line.encode()) + 1
    return "\n".join(parts)


def tekken_specials(wheel):
    """mistral-common's default special tokens (Tekkenizer.DEPRECATED_SPECIAL_TOKENS), for a
    tekken file without them, read from the wheel's sources without importing it."""
    with zipfile.ZipFile(wheel) as z:
        base = ast.parse(z.read("mistral_common/tokens/tokenizers/base.py").decode())
        tekken = z.read("mistral_common/tokens/tokenizers/tekken.py").decode()
    values = {}
    for node in ast.walk(base):
        if isinstance(node, ast.ClassDef) and node.name == "SpecialTokens":
            for item in node.body:
                if isinstance(item, ast.Assign) and isinstance(item.value, ast.Constant):
                    values[item.targets[0].id] = item.value.value
    block = tekken[tekken.index("DEPRECATED_SPECIAL_TOKENS"):]
    block = block[:block.index(")\n\n")]
    names = [part.split(",")[0] for part in block.split("token_str=SpecialTokens.")[1:]]
    return [{"rank": i, "token_str": values[n], "is_control": True} for i, n in enumerate(names)]


def tekken(work):
    cache = Path(os.environ.get("ZILI_CACHE", Path.home() / ".cache" / "zili"))
    wheel = cache / "assets" / "mistral_common-1.13.1-py3-none-any.whl"
    if not wheel.exists():
        print(f"tekken: skipped ({wheel} is absent; scripts/setup.sh fetches it)")
        return None
    from transformers.integrations.mistral.tokenizer import MistralConverter
    raw = json.loads(zipfile.ZipFile(wheel).read("mistral_common/data/tekken_240718.json"))
    raw["special_tokens"] = tekken_specials(wheel)
    src = work / "tekken_240718.json"
    src.write_text(json.dumps(raw))
    tok = MistralConverter(vocab_file=str(src)).converted()
    path = work / "tekken-tokenizer.json"
    tok.save(str(path))
    return tok, path


def main():
    zili, work = parse_args()
    failures = 0
    families = [("llama3", llama3), ("qwen2", qwen2), ("gpt2", gpt2),
                ("llama2-prepend", llama2_prepend), ("llama2-metaspace", llama2_metaspace),
                ("mixed", mixed)]
    big = megabyte_text()
    for name, build in families:
        tok, specials = build()
        texts = STRINGS + special_strings(specials) + [big]
        failures += compare(zili, work, name, tok, texts)

    # WordPiece: refused with one line naming the model type.
    wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wp.pre_tokenizer = pre_tokenizers.Whitespace()
    wp.train_from_iterator(corpus_lines(), trainers.WordPieceTrainer(
        vocab_size=300, special_tokens=["[UNK]"], show_progress=False))
    wp.save(str(work / "wordpiece.json"))
    result = subprocess.run([zili, "tokenize", "--tokenizer", work / "wordpiece.json", "--text",
                             "hi"], capture_output=True, text=True)
    lines = result.stderr.strip().splitlines()
    if result.returncode != 1 or len(lines) != 1 or "WordPiece is not supported" not in lines[0]:
        failures += 1
        print(f"wordpiece: expected one error line and exit 1, got {result.returncode}: "
              f"{result.stderr!r}")
    else:
        print(f"wordpiece: refused: {lines[0]}")

    # Invalid UTF-8: one clear error line, exit 1.
    bad = work / "bad.txt"
    bad.write_bytes(b"valid then \xff\xfe bad")
    result = subprocess.run([zili, "tokenize", "--tokenizer", work / "gpt2.json", "--text-file",
                             bad], capture_output=True, text=True)
    if result.returncode != 1 or "not valid UTF-8" not in result.stderr or \
            "offset 11" not in result.stderr or len(result.stderr.strip().splitlines()) != 1:
        failures += 1
        print(f"invalid UTF-8: expected one error line at offset 11, got {result.returncode}: "
              f"{result.stderr!r}")
    else:
        print(f"invalid UTF-8: refused: {result.stderr.strip()}")

    real = tekken(work)
    if real:
        tok, path = real
        specials = ["<s>", "</s>", "[INST]", "[/INST]", "<SPECIAL_20>"]
        texts = STRINGS + special_strings(specials) + [big]
        failures += compare(zili, work, "tekken-131k", tok, texts, path)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
