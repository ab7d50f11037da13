#!/usr/bin/python3
"""torch_gpt2.py MODEL_DIR THREADS PP[,PP...] TG — PyTorch eager on the benchmark's GPT-2 124M: the peer
bench/run.sh measures in the same rounds as kiln.

Reads MODEL_DIR/model.safetensors (bench/gen_gpt2.c's random weights), then, with
torch.set_num_threads(THREADS), under torch.inference_mode, float32:

  prefill  for each PP, one forward of a PP-token prompt (logits of the last position only,
           as generation needs), timed after one warm-up run;
  decode   TG tokens one at a time, greedy, with a KV cache (keys and values of every layer
           grown by torch.cat, as Hugging Face's GPT2Model does), after a 16-token prompt.

The forward is written as Hugging Face's GPT2Model computes it: Conv1D as torch.addmm(bias,
x, W) on [in, out] weights, F.layer_norm, softmax over masked scaled scores, GELU with the
tanh approximation, head tied to wte. It prints one line:

  torch <version> threads T prefill PP tok/s X [prefill PP tok/s X ...] decode TG tok/s Y

Needs Debian's python3-torch and python3-numpy (/usr/bin/python3); bench/run.sh skips the
PyTorch figures when they are missing."""
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

N_LAYER, N_HEAD, N_EMBD, EPS = 12, 12, 768, 1e-5


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        a = np.frombuffer(data, dtype="<f4", count=(e - b) // 4, offset=8 + n + b)
        out[name] = torch.from_numpy(a.reshape(info["shape"]).copy())
    return out


def conv1d(x, w, b):
    return torch.addmm(b, x.view(-1, x.shape[-1]), w).view(*x.shape[:-1], w.shape[1])


def forward(W, ids, cache, last_only):
    """ids (T,) at positions len(cache) .. ; cache: per layer [k, v] of (H, past, hd), grown in place."""
    T = ids.shape[0]
    past = cache[0][0].shape[1] if cache[0] else 0
    hd = N_EMBD // N_HEAD
    x = W["wte.weight"][ids] + W["wpe.weight"][past:past + T]
    mask = torch.ones(T, past + T, dtype=torch.bool).tril(past)
    for l in range(N_LAYER):
        p = "h.%d." % l
        h = F.layer_norm(x, (N_EMBD,), W[p + "ln_1.weight"], W[p + "ln_1.bias"], EPS)
        q, k, v = conv1d(h, W[p + "attn.c_attn.weight"], W[p + "attn.c_attn.bias"]).split(N_EMBD, dim=1)
        q, k, v = (t.view(T, N_HEAD, hd).transpose(0, 1) for t in (q, k, v))
        if cache[l]:
            k = torch.cat((cache[l][0], k), dim=1)
            v = torch.cat((cache[l][1], v), dim=1)
        cache[l] = [k, v]
        att = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(hd)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = torch.matmul(att, v).transpose(0, 1).reshape(T, N_EMBD)
        x = x + conv1d(y, W[p + "attn.c_proj.weight"], W[p + "attn.c_proj.bias"])
        h = F.layer_norm(x, (N_EMBD,), W[p + "ln_2.weight"], W[p + "ln_2.bias"], EPS)
        h = F.gelu(conv1d(h, W[p + "mlp.c_fc.weight"], W[p + "mlp.c_fc.bias"]), approximate="tanh")
        x = x + conv1d(h, W[p + "mlp.c_proj.weight"], W[p + "mlp.c_proj.bias"])
    if last_only:
        x = x[-1:]
    x = F.layer_norm(x, (N_EMBD,), W["ln_f.weight"], W["ln_f.bias"], EPS)
    return x @ W["wte.weight"].t()


def main():
    folder, threads, tg = sys.argv[1], int(sys.argv[2]), int(sys.argv[4])
    pps = [int(p) for p in sys.argv[3].split(",")]
    torch.set_num_threads(threads)
    W = read_safetensors(folder + "/model.safetensors")
    gen = torch.Generator().manual_seed(1)
    line = "torch %s threads %d" % (torch.__version__, threads)
    with torch.inference_mode():
        for pp in pps:
            prompt = torch.randint(0, 50257, (pp,), generator=gen)
            forward(W, prompt, [None] * N_LAYER, True)              # warm-up
            t0 = time.perf_counter()
            forward(W, prompt, [None] * N_LAYER, True)
            line += " prefill %d tok/s %.1f" % (pp, pp / (time.perf_counter() - t0))
        cache = [None] * N_LAYER
        tok = forward(W, prompt[:16], cache, True).argmax(-1)
        t0 = time.perf_counter()
        for _ in range(tg):
            tok = forward(W, tok, cache, True).argmax(-1)
        decode = tg / (time.perf_counter() - t0)
    print("%s decode %d tok/s %.2f" % (line, tg, decode))


if __name__ == "__main__":
    main()
