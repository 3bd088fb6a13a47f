#!/usr/bin/env python3
"""Reference hidden states for tests/test_encoder_forward.c: an independent
NumPy implementation of BERT's forward pass (erf GELU, LayerNorm as
(x - mean) / sqrt(var + eps) * g + b, softmax attention) reading the same
model.safetensors with its own parser, on two hand-written sentences
tokenized by Hugging Face `tokenizers` (pip install numpy tokenizers).

Writes tests/fixtures/encoder/forward_expected.txt:
  per sentence: "ids N id..." then N lines of `hidden` floats (%.7g).

usage: python3 tests/gen_encoder_forward_fixture.py [MODEL_DIR]
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np
from math import erf, sqrt
from tokenizers import Tokenizer

SENTENCES = [
    "Fabry disease causes burning pain in the hands and feet.",
    "Naïve cells, résumé — α-thalassemia!",
]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        b, e = v["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64}[v["dtype"]]
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(v["shape"]).astype(np.float64)
    return out


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


verf = np.vectorize(erf)


def gelu(x):
    return 0.5 * x * (1.0 + verf(x / sqrt(2.0)))


def forward(W, cfg, ids):
    n = len(ids)
    H = cfg["num_attention_heads"]
    d = cfg["hidden_size"]
    dh = d // H
    eps = cfg["layer_norm_eps"]
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:n] \
        + W["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    for l in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        lin = lambda t, name: t @ W[p + name + ".weight"].T + W[p + name + ".bias"]
        q = lin(x, "attention.self.query").reshape(n, H, dh).transpose(1, 0, 2)
        k = lin(x, "attention.self.key").reshape(n, H, dh).transpose(1, 0, 2)
        v = lin(x, "attention.self.value").reshape(n, H, dh).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / sqrt(dh)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(n, d)
        x = layer_norm(x + lin(a, "attention.output.dense"),
                       W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
        f = lin(gelu(lin(x, "intermediate.dense")), "output.dense")
        x = layer_norm(x + f, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    return x


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    model_dir = sys.argv[1] if len(sys.argv) > 1 else subprocess.check_output(
        [os.path.join(here, "..", "scripts", "fetch-encoder.sh"), "--path"], text=True).strip()
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    W = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    with open(os.path.join(here, "fixtures", "encoder", "forward_expected.txt"), "w") as f:
        for s in SENTENCES:
            ids = tok.encode(s).ids  # with [CLS] ... [SEP]
            h = forward(W, cfg, ids)
            f.write("ids %d %s\n" % (len(ids), " ".join(map(str, ids))))
            for row in h:
                f.write(" ".join("%.7g" % v for v in row) + "\n")


if __name__ == "__main__":
    main()
