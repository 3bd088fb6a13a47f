#!/usr/bin/env python3
"""Reference tokenizations for tests/test_encoder.c (the WordPiece tokenizer).

Reads tests/fixtures/encoder/wordpiece_sentences.txt (hand-written; one
sentence a line, "\\t" a tab, "\\0" a NUL, "\\\\" a backslash) and writes
wordpiece_expected.txt beside it: per sentence one line of piece ids (no
[CLS]/[SEP]), as the Hugging Face `tokenizers` library computes them from
the model's tokenizer.json (pip install tokenizers).

usage: python3 tests/gen_wordpiece_fixture.py [MODEL_DIR]
  MODEL_DIR: folder with tokenizer.json (default: scripts/fetch-encoder.sh --path)
"""
import os
import subprocess
import sys

from tokenizers import Tokenizer


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"t": "\t", "0": "\0", "\\": "\\"}[s[i + 1]])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    model_dir = sys.argv[1] if len(sys.argv) > 1 else subprocess.check_output(
        [os.path.join(here, "..", "scripts", "fetch-encoder.sh"), "--path"], text=True).strip()
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    fix = os.path.join(here, "fixtures", "encoder")
    with open(os.path.join(fix, "wordpiece_sentences.txt"), encoding="utf-8", newline="") as f:
        sentences = [unescape(l) for l in f.read().split("\n")]
    with open(os.path.join(fix, "wordpiece_expected.txt"), "w", encoding="utf-8") as f:
        for s in sentences:
            enc = tok.encode(s, add_special_tokens=False)
            f.write(" ".join(str(i) for i in enc.ids) + "\n")
            print(" ".join(enc.tokens), file=sys.stderr)


if __name__ == "__main__":
    main()
