# Peer test: zili's Jinja engine against transformers' apply_chat_template (jinja2 with the
# environment transformers builds: trim_blocks, lstrip_blocks, loopcontrols, its tojson,
# raise_exception, strftime_now, dict and namespace).
#   python test_jinja_parity.py --zili build/zili --work SCRATCH_DIR
#
# 1. Real templates (tests/data/chat_templates/*.jinja, SOURCES.md names each one's model
#    repository): each conversation below, with and without add_generation_prompt, rendered
#    by AutoTokenizer.apply_chat_template(tokenize=False, chat_template=SRC) on a tokenizer
#    folder (made by `zili init`, bos "<s>", eos "</s>") and by `zili template --model FOLDER
#    --chat-template SRC`: the texts equal byte for byte. zili's ids are shown against
#    transformers' encoding of the text without special tokens ("." equal, "i" not: this
#    sentencepiece folder keeps a "<s>" the template writes as text, transformers makes it the
#    BOS id; ids are test_tokenizer_parity's subject), not checked. Conversations: one user turn; a system
#    prompt, multi-turn, unicode; replies with surrounding whitespace; a tool list (the
#    templates that take tools); a tool call and its result; a reply with reasoning_content.
#    date_string is fixed (TRL's chat_template_kwargs in the JSONL line) so that templates
#    that print a date agree. Where transformers raises (a template refusing a conversation,
#    e.g. Gemma 2 and a system message), zili must fail with the template's message.
# 2. Snippets (jinja_snippets.py), one construct each, rendered through transformers'
#    compiled template and through `zili template --chat-template`: equal text; the failing
#    ones fail in both.
# Exit 0: all agree; 1: a mismatch.
import json
import sys
from pathlib import Path

from common import SOURCE_DIR, make_tokenizer_dir, parse_args, run
import subprocess

from transformers import AutoTokenizer
from transformers.utils.chat_template_utils import _compile_jinja_template

from jinja_snippets import CONTEXT, FAILING, SNIPPETS

TEMPLATES = SOURCE_DIR / "tests" / "data" / "chat_templates"
DATE = "26 Jul 2024"
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "The city, e.g. Paris"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}]
CONVERSATIONS = [
    ([{"role": "user", "content": "Hello!"}], None),
    ([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"},
      {"role": "assistant", "content": "Hello."},
      {"role": "user", "content": "Ünïcödé ✓ 你好 😀 — «quotes» \"and\" 'more'?"}], None),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": " b\n"},
      {"role": "user", "content": "c"}, {"role": "assistant", "content": "d\n\n e "}], None),
    ([{"role": "user", "content": "Weather in Paris?"}], TOOLS),
    ([{"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": "", "tool_calls": [{"id": "call12345", "type": "function",
       "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "22 C"},
      {"role": "assistant", "content": "It is 22 C."}], TOOLS),
    ([{"role": "user", "content": "Think first."},
      {"role": "assistant", "content": "42", "reasoning_content": "6 times 7"},
      {"role": "user", "content": "Again?"}], None),
]


def zili_template(zili, model, template_file, lines, out, generation_prompt):
    data = out.with_suffix(".jsonl.in")
    data.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    cmd = [zili, "template", "--model", model, "--data", data, "--chat-template", template_file,
           "--out", out]
    if generation_prompt:
        cmd.append("--add-generation-prompt")
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if result.returncode != 0:
        return None, result.stderr.strip()
    return [json.loads(line) for line in out.read_text().splitlines()], ""


def real_templates(zili, work, model, tokenizer):
    failures = 0
    files = sorted(TEMPLATES.glob("*.jinja"))
    assert len(files) >= 10, f"expected the real templates in {TEMPLATES}"
    for path in files:
        source = path.read_text()
        results = []
        for generation_prompt in (False, True):
            rendered, raising = [], []
            for messages, tools in CONVERSATIONS:
                line = {"messages": messages, "chat_template_kwargs": {"date_string": DATE}}
                if tools:
                    line["tools"] = tools
                try:
                    text = tokenizer.apply_chat_template(
                        json.loads(json.dumps(messages)), tools=tools, chat_template=source,
                        tokenize=False, add_generation_prompt=generation_prompt,
                        date_string=DATE)
                    rendered.append((line, text))
                except Exception as error:  # the template refused this conversation
                    raising.append((line, str(error)))
            tag = f"{path.stem}-{int(generation_prompt)}"
            got, error = zili_template(zili, model, path, [l for l, _ in rendered],
                                       work / f"{tag}.jsonl", generation_prompt)
            if got is None:
                print(f"{path.name}: zili template failed: {error}")
                failures += 1
                continue
            for (line, want), z in zip(rendered, got):
                ids = tokenizer(want, add_special_tokens=False)["input_ids"]
                ok = z["text"] == want
                # The ids are the tokenizer's business (test_tokenizer_parity): the
                # sentencepiece tokenizer here keeps "<s>" typed in text as text where
                # transformers makes it the BOS id, so they are shown, not checked.
                results.append(("." if z["ids"] == ids else "i") if ok else "X")
                if not ok:
                    failures += 1
                    print(f"{path.name} (generation prompt {generation_prompt}): mismatch"
                          f"\n  transformers: {want!r}\n  zili:         {z['text']!r}")
            for i, (line, message) in enumerate(raising):
                _, error = zili_template(zili, model, path, [line], work / f"{tag}-raise{i}.jsonl",
                                         generation_prompt)
                ok = f"the template raised: {message}" in error
                results.append("r" if ok else "X")
                if not ok:
                    failures += 1
                    print(f"{path.name}: transformers raised {message!r}, zili said {error!r}")
        print(f"{path.name:50s} {''.join(results)}")
    return failures


def snippets(zili, work, model):
    failures = 0
    marker = "@@SNIP@@"
    combined = "".join(s + "{{ '" + marker + "' }}" for s in SNIPPETS)
    template_file = work / "snippets.jinja"
    template_file.write_text(combined)
    want = _compile_jinja_template(combined).render(**CONTEXT).split(marker)
    line = {"messages": CONTEXT["messages"],
            "chat_template_kwargs": {k: v for k, v in CONTEXT.items() if k != "messages"}}
    got, error = zili_template(zili, model, template_file, [line], work / "snippets.jsonl", False)
    if got is None:
        print(f"snippets: zili template failed: {error}")
        return 1
    parts = got[0]["text"].split(marker)
    for snippet, w, g in zip(SNIPPETS, want, parts):
        if w != g:
            failures += 1
            print(f"snippet {snippet!r}\n  jinja2: {w!r}\n  zili:   {g!r}")
    if len(parts) != len(want):
        failures += 1
        print(f"snippets: {len(parts)} parts from zili, {len(want)} from jinja2")
    for i, snippet in enumerate(FAILING):
        try:
            _compile_jinja_template(snippet).render(**CONTEXT)
            print(f"failing snippet {snippet!r} does not fail in jinja2")
            failures += 1
            continue
        except Exception:
            pass
        template_file = work / f"failing{i}.jinja"
        template_file.write_text(snippet)
        got, error = zili_template(zili, model, template_file, [line], work / f"failing{i}.jsonl",
                                   False)
        if got is not None or "\n" in error or not error:
            failures += 1
            print(f"failing snippet {snippet!r}: zili gave {got!r} / {error!r}")
    print(f"snippets: {len(SNIPPETS)} rendering, {len(FAILING)} failing checked")
    return failures


def main():
    zili, work = parse_args()
    model = make_tokenizer_dir(zili, work)
    tokenizer = AutoTokenizer.from_pretrained(str(model))
    failures = real_templates(zili, work, model, tokenizer) + snippets(zili, work, model)
    if failures:
        sys.exit(f"{failures} mismatches")
    print("all equal")


if __name__ == "__main__":
    main()
