#!/usr/bin/python3
"""make_ref.py — the PyTorch reference for the GPT-2 124M benchmark's correctness check.

Reads the model.safetensors written by bench/gen_gpt2.c (random weights, real shapes), runs
an independent nanoGPT-style GPT-2 forward in float32 torch (pre-LN blocks, causal attention,
GELU with the tanh approximation, Conv1D weights in [in, out] layout, head tied to wte) on a
fixed sequence of 16 token ids, and writes

  bench/gpt2_124m_ref.json      the ids; for every position the argmax id and the top-5
                                (id, logit); the max |logit| over the last position and over
                                all positions
  bench/gpt2_124m_ref_last.f32  the 50257 float32 logits of the last position (little endian)

Dev-only: needs Debian's python3-torch and python3-numpy (/usr/bin/python3, not the python3
that may come first on PATH). Run from the repository root, after bench/run.sh has generated
the weights (or after `cc -O2 -o gen bench/gen_gpt2.c && ./gen build/bench/gpt2-124m`):

  /usr/bin/python3 bench/make_ref.py [build/bench/gpt2-124m/model.safetensors]

Nothing here comes from kiln: the safetensors reader is the 20 lines below, the forward is
written from the GPT-2 paper / nanoGPT's model.py.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

N_LAYER, N_HEAD, N_EMBD, VOCAB, EPS = 12, 12, 768, 50257, 1e-5

# "Hello, my name is" in GPT-2's tokenizer (15496, 11, 616, 1438, 318), then arbitrary ids
# < 50257 (including 0 and the last id, 50256 = <|endoftext|>).
IDS = [15496, 11, 616, 1438, 318, 0, 50256, 1212, 3290, 49999, 7, 25000, 198, 40, 31415, 2]

HERE = os.path.dirname(os.path.abspath(__file__))


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        b, e = info["data_offsets"]
        a = np.frombuffer(data, dtype="<f4", count=(e - b) // 4, offset=base + b)
        out[name] = torch.from_numpy(a.reshape(info["shape"]).copy())
    return out


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + EPS) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(W, ids):
    T = len(ids)
    hd = N_EMBD // N_HEAD
    x = W["wte.weight"][ids] + W["wpe.weight"][torch.arange(T)]  # (T, C)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(N_LAYER):
        p = "h.%d." % l
        h = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"])
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]  # (T, 3C)
        q, k, v = qkv.split(N_EMBD, dim=1)
        q = q.view(T, N_HEAD, hd).transpose(0, 1)  # (H, T, hd)
        k = k.view(T, N_HEAD, hd).transpose(0, 1)
        v = v.view(T, N_HEAD, hd).transpose(0, 1)
        att = (q @ k.transpose(1, 2)) / math.sqrt(hd)  # (H, T, T)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(0, 1).reshape(T, N_EMBD)
        x = x + y @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        h = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"])
        h = gelu_tanh(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        x = x + h @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"])
    return x @ W["wte.weight"].t()  # (T, vocab), tied head


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "build/bench/gpt2-124m/model.safetensors"
    torch.set_num_threads(1)
    W = read_safetensors(path)
    with torch.no_grad():
        logits = forward(W, IDS)
        # float64 run of the same forward: how far float32 itself is from the exact result
        logits64 = forward({k: v.double() for k, v in W.items()}, IDS)
    err32 = (logits.double() - logits64).abs().max().item()
    top = logits.topk(5, dim=-1)
    last = logits[-1].contiguous().numpy().astype("<f4")
    ref = {
        "model": "GPT-2 124M, random weights of bench/gen_gpt2.c",
        "made_by": "bench/make_ref.py (torch %s, float32)" % torch.__version__,
        "ids": IDS,
        "argmax": [int(i) for i in logits.argmax(-1)],
        "top5": [[[int(i), float("%.7g" % v)] for i, v in zip(ti, tv)]
                 for ti, tv in zip(top.indices.tolist(), top.values.tolist())],
        "max_abs_logit_last": float("%.7g" % logits[-1].abs().max().item()),
        "max_abs_logit": float("%.7g" % logits.abs().max().item()),
        "float32_vs_float64_max_abs_diff": float("%.3g" % err32),
    }
    with open(os.path.join(HERE, "gpt2_124m_ref.json"), "w") as f:
        # one position per line, so that bench/check.c (and a reader's eye) can scan it simply
        f.write("{\n")
        for k in ("model", "made_by", "ids", "argmax", "max_abs_logit_last", "max_abs_logit",
                  "float32_vs_float64_max_abs_diff"):
            f.write('  "%s": %s,\n' % (k, json.dumps(ref[k])))
        f.write('  "top5": [\n')
        f.write(",\n".join("    " + json.dumps(t) for t in ref["top5"]))
        f.write("\n  ]\n}\n")
    with open(os.path.join(HERE, "gpt2_124m_ref_last.f32"), "wb") as f:
        f.write(last.tobytes())
    gaps = [t[0][1] - t[1][1] for t in ref["top5"]]
    print("wrote bench/gpt2_124m_ref.json and bench/gpt2_124m_ref_last.f32")
    print("argmax:", ref["argmax"])
    print("max |logit| (last position) %.4f; float32 vs float64 max |diff| %.3g; smallest top1-top2 gap %.3g"
          % (ref["max_abs_logit_last"], err32, min(gaps)))


if __name__ == "__main__":
    main()
