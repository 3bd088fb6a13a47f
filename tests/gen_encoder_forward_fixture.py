#!/usr/bin/env python3
"""Reference hidden states for tests/test_encoder_forward.c: an independent
NumPy implementation of BERT's and MPNet's forward passes (erf GELU,
LayerNorm as (x - mean) / sqrt(var + eps) * g + b, softmax attention; MPNet:
positions from pad_token_id + 1, no token types, the relative-distance
attention bias of Hugging Face's MPNetModel) reading the same
model.safetensors with its own parser, on two hand-written sentences
tokenized by Hugging Face `tokenizers` (pip install numpy tokenizers).

  gen_encoder_forward_fixture.py [MODEL_DIR]
      tests/fixtures/encoder/forward_expected.txt from all-MiniLM-L6-v2
      (default: scripts/fetch-encoder.sh --path)
  gen_encoder_forward_fixture.py MODEL_DIR OUT DIMS
      the same for another model (all-mpnet-base-v2), keeping the first DIMS
      values of each row (the fixture stays small)
  gen_encoder_forward_fixture.py --tiny-mpnet DIR
      a random 2-layer MPNet (config.json, vocab.txt, model.safetensors) and
      DIR/forward_expected.txt for two id sequences, one of 140 pieces so
      that every bucket of relative distance up to 128 is used

Fixture format: per sentence "ids N id..." (after a first line "dims K" when
rows are cut), then N lines of hidden floats (%.7g).
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


def relative_bucket(rel, num_buckets, max_distance=128):
    """MPNetEncoder.relative_position_bucket, in float32 as torch computes it."""
    n = -rel
    num_buckets //= 2
    ret = (n < 0).astype(np.int64) * num_buckets
    n = np.abs(n)
    max_exact = num_buckets // 2
    lg = np.log(np.maximum(n, 1).astype(np.float32) / np.float32(max_exact)) / np.float32(np.log(max_distance / max_exact))
    large = max_exact + (lg * np.float32(num_buckets - max_exact)).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    return ret + np.where(n < max_exact, n, large)


def forward(W, cfg, ids):
    n = len(ids)
    H = cfg["num_attention_heads"]
    d = cfg["hidden_size"]
    dh = d // H
    eps = cfg["layer_norm_eps"]
    mpnet = cfg.get("model_type") == "mpnet"
    if mpnet:
        first = cfg["pad_token_id"] + 1
        x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][first:first + n]
        pos = np.arange(n)
        buckets = relative_bucket(pos[None, :] - pos[:, None], cfg["relative_attention_num_buckets"])
        bias = W["encoder.relative_attention_bias.weight"][buckets].transpose(2, 0, 1)  # [H, q, k]
        names = ("attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o",
                 "attention.LayerNorm")
    else:
        x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:n] \
            + W["embeddings.token_type_embeddings.weight"][0]
        bias = 0.0
        names = ("attention.self.query", "attention.self.key", "attention.self.value",
                 "attention.output.dense", "attention.output.LayerNorm")
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    for l in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        lin = lambda t, name: t @ W[p + name + ".weight"].T + W[p + name + ".bias"]
        q = lin(x, names[0]).reshape(n, H, dh).transpose(1, 0, 2)
        k = lin(x, names[1]).reshape(n, H, dh).transpose(1, 0, 2)
        v = lin(x, names[2]).reshape(n, H, dh).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / sqrt(dh) + bias
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(n, d)
        x = layer_norm(x + lin(a, names[3]), W[p + names[4] + ".weight"], W[p + names[4] + ".bias"], eps)
        f = lin(gelu(lin(x, "intermediate.dense")), "output.dense")
        x = layer_norm(x + f, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    return x


def write_fixture(path, W, cfg, id_lists, dims=None):
    with open(path, "w") as f:
        if dims:
            f.write("dims %d\n" % dims)
        for ids in id_lists:
            h = forward(W, cfg, ids)
            f.write("ids %d %s\n" % (len(ids), " ".join(map(str, ids))))
            for row in h:
                f.write(" ".join("%.7g" % v for v in row[:dims]) + "\n")


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def tiny_mpnet(out):
    """A random MPNet small enough to commit, with a vocabulary framed as
    all-mpnet-base-v2's (<s> <pad> </s> <unk> first, BERT's [UNK] kept)."""
    rng = np.random.default_rng(7)
    d, ffn, H, layers, maxpos, buckets = 32, 64, 4, 2, 160, 32
    vocab = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]", "[CLS]", "[SEP]"] + \
        ["fabry", "disease", "pain", "burning", "##s", "skin", "rash", "the", "in", "."] + \
        ["w%d" % i for i in range(23)]
    cfg = {"model_type": "mpnet", "hidden_act": "gelu", "hidden_size": d, "intermediate_size": ffn,
           "num_attention_heads": H, "num_hidden_layers": layers, "max_position_embeddings": maxpos,
           "vocab_size": len(vocab), "layer_norm_eps": 1e-5, "pad_token_id": 1,
           "relative_attention_num_buckets": buckets}
    r = lambda *shape: (0.2 * rng.standard_normal(shape)).astype(np.float32)
    W = {"embeddings.word_embeddings.weight": r(len(vocab), d),
         "embeddings.position_embeddings.weight": r(maxpos, d),
         "embeddings.LayerNorm.weight": 1 + r(d), "embeddings.LayerNorm.bias": r(d),
         # a bias large enough that a wrong bucket shows in the output
         "encoder.relative_attention_bias.weight": 5 * r(buckets, H)}
    for l in range(layers):
        p = "encoder.layer.%d." % l
        for m in "qkvo":
            W[p + "attention.attn.%s.weight" % m] = r(d, d)
            W[p + "attention.attn.%s.bias" % m] = r(d)
        W[p + "attention.LayerNorm.weight"] = 1 + r(d)
        W[p + "attention.LayerNorm.bias"] = r(d)
        W[p + "intermediate.dense.weight"], W[p + "intermediate.dense.bias"] = r(ffn, d), r(ffn)
        W[p + "output.dense.weight"], W[p + "output.dense.bias"] = r(d, ffn), r(d)
        W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"] = 1 + r(d), r(d)
    os.makedirs(out, exist_ok=True)
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=1)
    open(os.path.join(out, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
    write_safetensors(os.path.join(out, "model.safetensors"), W)
    W64 = {k: v.astype(np.float64) for k, v in W.items()}
    short = [0, 7, 8, 12, 11, 9, 16, 15, 2]
    long_ = [0] + [int(x) for x in rng.integers(7, len(vocab), 138)] + [2]
    write_fixture(os.path.join(out, "forward_expected.txt"), W64, cfg, [short, long_])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    if len(sys.argv) == 3 and sys.argv[1] == "--tiny-mpnet":
        return tiny_mpnet(sys.argv[2])
    model_dir = sys.argv[1] if len(sys.argv) > 1 else subprocess.check_output(
        [os.path.join(here, "..", "scripts", "fetch-encoder.sh"), "--path"], text=True).strip()
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "fixtures", "encoder",
                                                              "forward_expected.txt")
    dims = int(sys.argv[3]) if len(sys.argv) > 3 else None
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    W = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    # with [CLS] ... [SEP] (MPNet: <s> ... </s>)
    write_fixture(out, W, cfg, [tok.encode(s).ids for s in SENTENCES], dims)


if __name__ == "__main__":
    main()
