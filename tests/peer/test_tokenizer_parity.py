# Peer test: `zili tokenize` against the sentencepiece Python package and transformers'
# AutoTokenizer, on a Llama-style BPE tokenizer trained here from the shipped corpus.
#   python test_tokenizer_parity.py --zili build/zili --work SCRATCH_DIR
#
# zili must equal sentencepiece (plus BOS/EOS as tokenizer_config.json says) on every string.
# transformers 5 loads the folder as LlamaTokenizer, a `tokenizers` BPE converted from
# tokenizer.model (Metaspace pre-tokenizer with prepend_scheme="first", byte fallback, no
# normalizer). It equals zili on every string except two deliberate kinds:
#  1. Text that starts with a space (or the "▁" marker itself): sentencepiece's
#     add_dummy_prefix always prepends "▁", so "  two" is "▁" "▁" "▁two"; Metaspace prepends
#     only when the text does not already start with "▁", so transformers gives "▁" "▁two":
#     the ids sentencepiece gives with add_dummy_prefix off.
#  2. Special-token text such as "</s>" inside the input: transformers matches it as the
#     special token (id 2); sentencepiece and zili encode the characters. With
#     split_special_tokens=True transformers equals zili again.
# Exit 0: all agree as stated; 1: a mismatch; 77: the Python packages are missing (skip).
import argparse
import concurrent.futures
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

try:
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2
    from transformers import AutoTokenizer
except ImportError as e:  # the venv lacks the references: skip, do not fail
    print(f"skip: {e}")
    sys.exit(77)

SPACE = "\u2581"  # "▁", sentencepiece's whitespace marker

# Strings where zili, sentencepiece and transformers must agree exactly.
AGREE = [
    "Hello world",
    "The cat sat on the mat.",
    "",
    "trailing spaces  ",
    "a  b   c    d",
    "tabs\tinside\tthe text",
    "\tleading tab",
    "\nleading newline",
    "line one\nline two\n",
    "windows\r\nline end",
    "12345",
    "3.14 and 1,000,000 and -42 and 007",
    "What is 12 times 3? It is 36.",
    "Hello, world! (yes?) [no] {x} #1 $2.50 @me 50% a/b a\\b \"quoted\" 'single' ~^`|",
    "caf\u00e9 na\u00efve \u00fc\u00df \u00c5ngstr\u00f6m",
    "e\u0301 combining accent, \ufb01 ligature, non\u00a0breaking space",
    "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3067\u3059\u3002",  # Japanese
    "\u4e2d\u6587 \ud55c\uad6d\uc5b4 "  # Chinese, Korean
    # Russian, Arabic
    "\u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "emoji \U0001f642 \U0001f408\u200d\u2b1b \U0001f44d\U0001f3fd flags \U0001f1eb\U0001f1f7",
    "mid\u2581marker",
    "Instruction: List three foods.\nAnswer: Bread, rice and soup.",
]
# Kind 1 above: transformers(s) == [BOS] + sentencepiece without the dummy prefix(s).
LEADING_SPACE = [" ", "   ", " one leading space", "  two leading spaces", SPACE + " marker first"]
# Kind 2 above: transformers(s, split_special_tokens=True) == zili.
SPECIAL_TEXT = ["<s> literal", "ends with </s>", "<unk>"]

TRAIN = dict(model_type="bpe", byte_fallback=True, split_digits=True,
             normalization_rule_name="identity", remove_extra_whitespaces=False,
             add_dummy_prefix=True, allow_whitespace_only_pieces=True, unk_id=0, bos_id=1,
             eos_id=2, pad_id=-1, num_threads=1, character_coverage=1.0, input_sentence_size=0,
             shuffle_input_sentence=False, minloglevel=2)


def write_tokenizer_dir(folder, zili_written, add_bos, add_eos):
    """The tokenizer files `zili init` wrote, with the BOS/EOS flags set as asked."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(zili_written / name, folder / name)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.update(add_bos_token=add_bos, add_eos_token=add_eos)
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return folder


def zili_tokenize(zili, source, text, no_special=False):
    # --text=S, so text starting with "-" is not read as a flag; CLI11 reads a bare
    # "--text=" as a flag without its value, so the empty string goes as its own argument.
    cmd = [zili, "tokenize", *source, *(["--text", ""] if text == "" else [f"--text={text}"]),
           "--json"]
    if no_special:
        cmd.append("--no-special")
    done = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8")
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)!r} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


class Checker:
    def __init__(self):
        self.checks = 0
        self.failures = []

    def equal(self, what, text, got, want):
        self.checks += 1
        if got != want:
            self.failures.append(f"{what} on {text!r}:\n    got  {got}\n    want {want}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zili", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    start = time.time()
    work = pathlib.Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    corpus = pathlib.Path(os.environ.get("ZILI_SOURCE_DIR", pathlib.Path(__file__).parents[2]))
    corpus = corpus / "data" / "tokenizer-corpus.txt"

    # The Python package's trainer (a newer sentencepiece than the one zili links), with the
    # settings of zili's train_tokenizer.
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(work / "llama-bpe"),
                                   vocab_size=4000, **TRAIN)
    model = work / "llama-bpe.model"
    sp = spm.SentencePieceProcessor(model_file=str(model))
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.read_bytes())
    proto.normalizer_spec.add_dummy_prefix = False
    sp_no_prefix = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())
    check = Checker()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)
    # transformers reads the tokenizer files exactly as zili writes them.
    zili_written = work / "zili-init"
    subprocess.run([args.zili, "init", "--preset", "tiny", "--tokenizer", str(model), "--out",
                    str(zili_written)], check=True, capture_output=True)

    configs = [(True, False, AGREE + LEADING_SPACE + SPECIAL_TEXT),
               (True, True, ["Hello world", "", "  x", "emoji \U0001f642"]),
               (False, True, ["Hello world", "", "12345"])]
    for add_bos, add_eos, texts in configs:
        folder = write_tokenizer_dir(work / f"bos{int(add_bos)}-eos{int(add_eos)}", zili_written,
                                     add_bos, add_eos)
        hf = AutoTokenizer.from_pretrained(str(folder))
        if type(hf).__name__ != "LlamaTokenizer":
            check.failures.append(f"AutoTokenizer gave {type(hf).__name__}, not LlamaTokenizer")
        src = ["--model", str(folder)]
        outs = pool.map(lambda s: zili_tokenize(args.zili, src, s), texts)
        tag = f"add_bos_token={add_bos} add_eos_token={add_eos}"
        for text, out in zip(texts, outs):
            plain = sp.encode(text)
            want = [1] * add_bos + plain + [2] * add_eos
            check.equal(f"zili vs sentencepiece ({tag})", text, out["ids"], want)
            check.equal("zili pieces", text, out["pieces"], [sp.id_to_piece(i) for i in want])
            hf_ids = hf(text)["input_ids"]
            if text.startswith((" ", SPACE)):
                hf_want = [1] * add_bos + sp_no_prefix.encode(text) + [2] * add_eos
                check.equal("transformers vs sentencepiece without dummy prefix", text,
                            hf_ids, hf_want)
            elif text in SPECIAL_TEXT:
                check.equal("transformers (split_special_tokens=True) vs zili", text,
                            hf(text, split_special_tokens=True)["input_ids"], out["ids"])
                check.equal("transformers parses special-token text", text,
                            any(i in (0, 1, 2) for i in hf_ids[add_bos:]), True)
            else:
                check.equal(f"transformers vs zili ({tag})", text, hf_ids, out["ids"])

    # --no-special, and a bare tokenizer.model (BOS added, EOS not).
    for text in ["Hello world", "\u65e5\u672c\u8a9e \U0001f642"]:
        out = zili_tokenize(args.zili, ["--model", str(work / "bos1-eos1")], text, no_special=True)
        check.equal("zili --no-special", text, out["ids"], sp.encode(text))
        out = zili_tokenize(args.zili, ["--tokenizer", str(model)], text)
        check.equal("zili --tokenizer FILE", text, out["ids"], [1] + sp.encode(text))
    pool.shutdown()

    print(f"tokenizer parity: {check.checks} checks, {len(check.failures)} failures "
          f"({len(AGREE)} strings agree across zili, sentencepiece and transformers; "
          f"{len(LEADING_SPACE)} leading-space and {len(SPECIAL_TEXT)} special-token strings "
          f"differ in transformers as documented), {time.time() - start:.1f} s")
    for failure in check.failures:
        print("MISMATCH " + failure)
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
