#!/usr/bin/python3
"""Make independent PyTorch reference outputs for kiln's interpreter tests.

What it makes: one folder per case under tests/ref/<case>/ with
    weights.safetensors   every parameter, F32, under the names listed in the case's README
                          (not for the makemore and llama2xs cases: their trained weights stay in
                          ../shared/models/<model>/model.safetensors and are only read here);
    inputs.safetensors    the graph inputs, I32;
    expected.safetensors  the expected outputs, F32;
    debug.safetensors     intermediate activations of the reference (F32), for bisecting a mismatch;
    README.md             architecture, hyper-parameters, tensor names and layouts, the reference
                          followed, the formula of every op, and the cross-checks with their results.
Cases: gpt2-a, gpt2-b (+ config.json), makemore-names, makemore-tr-names, llama-interleaved,
llama-half, llama2xs, bert, encdec, gpt1, gpt3, albert, electra, distilbert.

How to run (needs torch and numpy, i.e. Debian's python, not the pyenv one on PATH):
    /usr/bin/python3 tests/ref/make_refs.py            # writes every case
    /usr/bin/python3 tests/ref/make_refs.py bert gpt2-a   # only these cases
The trained weights of the makemore and llama2xs cases (and llama2xs's tokenizer,
stories260K/tok512.bin) are read from $KILN_SHARED/models (default: ../shared next to the
repository root, i.e. /work/shared).

Numerics: random weights and inputs come from numpy.random.RandomState(seed) (a generator whose
stream numpy guarantees to keep stable), rounded to float32 and saved; every reference then runs in
float64 on those float32 values (torch default dtype set to float64) and the outputs are rounded to
float32 when saved. Deterministic: single-threaded, no other randomness; running twice gives
byte-identical files (checked when this was written). Output files written on another
machine or torch version could differ in the last bit of some F32 outputs, never more.

Each case is computed by a reference written in the style of a published implementation (nanoGPT,
makemore, Meta/llama2.c model.py, Hugging Face LlamaModel, torch.nn.TransformerEncoderLayer /
TransformerDecoderLayer, Hugging Face OpenAIGPTModel, GPT-Neo's local-attention mask, Hugging Face
AlbertForMaskedLM / ElectraForPreTraining / DistilBertForMaskedLM) and
cross-checked against a second, separately written computation; the
script fails (exit 1) if a cross-check disagrees by more than 1e-9 relative (float64).
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, HERE)
import safetensors_io as st  # noqa: E402

SHARED = os.environ.get("KILN_SHARED", os.path.join(HERE, "..", "..", "..", "shared"))
CROSS_TOL = 1e-9  # relative agreement demanded of the float64 cross-checks

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
torch.manual_seed(0)  # modules are built with random init, all of which is then overwritten


# ----------------------------------------------------------------------------------------------
# common helpers
# ----------------------------------------------------------------------------------------------

class Init:
    """Random F32 weights and I32 ids from a fixed numpy seed."""

    def __init__(self, seed):
        self.rng = np.random.RandomState(seed)

    def normal(self, shape, std):
        return (self.rng.standard_normal(shape) * std).astype(np.float32)

    def ln_weight(self, n):
        return (1.0 + 0.1 * self.rng.standard_normal(n)).astype(np.float32)

    def ln_bias(self, n):
        return (0.1 * self.rng.standard_normal(n)).astype(np.float32)

    def ids(self, shape, lo, hi):
        return self.rng.randint(lo, hi, size=shape).astype(np.int32)


def t64(a):
    """numpy array -> torch float64 (weights) or int64 (ids)."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return torch.from_numpy(a.astype(np.float64))
    return torch.from_numpy(a.astype(np.int64))


def save(path, named):
    """named: list of (name, array-like); floats are saved F32, integers I32."""
    recs = []
    for name, a in named:
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        a = np.asarray(a)
        if a.dtype.kind == "f":
            recs.append((name, "F32", list(a.shape), np.ascontiguousarray(a, dtype="<f4").tobytes()))
        elif a.dtype.kind in "iub":
            assert a.size == 0 or (a.min() >= -2**31 and a.max() < 2**31)
            recs.append((name, "I32", list(a.shape), np.ascontiguousarray(a, dtype="<i4").tobytes()))
        else:
            raise TypeError(name)
    st.write(path, recs)


def load_safetensors(path):
    out = {}
    for name, (dtype, shape, raw) in st.read(path).items():
        assert dtype == "F32", (path, name, dtype)
        out[name] = np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
    return out


def maxdiff(a, b):
    """(max |a - b|, max |a|) in float64."""
    a = a.detach().double()
    b = b.detach().double()
    return (a - b).abs().max().item(), a.abs().max().item()


class Report:
    """Collects cross-check results of one case (for its README and the console)."""

    def __init__(self, case):
        self.case = case
        self.lines = []
        self.failed = False

    def check(self, what, ref, other):
        d, m = maxdiff(ref, other)
        ok = d <= CROSS_TOL * m
        self.failed |= not ok
        line = "%s: max |diff| = %.3e (max |reference| = %.3f, relative %.1e) %s" % (
            what, d, m, d / m, "OK" if ok else "DISAGREE")
        self.lines.append(line)
        print("  [%s] %s" % (self.case, line))

    def text(self):
        return "\n".join("- " + l for l in self.lines)


def tensor_table(named, note=None):
    rows = ["| name | dtype | shape |", "| --- | --- | --- |"]
    for name, a in named:
        a = np.asarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a)
        dt = "F32" if a.dtype.kind == "f" else "I32"
        rows.append("| `%s` | %s | [%s] |" % (name, dt, ", ".join(str(d) for d in a.shape)))
    return "\n".join(rows)


def ids_text(named):
    out = []
    for name, a in named:
        a = np.asarray(a)
        out.append("- `%s` = %s" % (name, json.dumps(a.tolist())))
    return "\n".join(out)


def stats_text(named):
    out = []
    for name, a in named:
        a = a.detach().double()
        if a.dim() >= 1 and name.startswith("logits"):
            p = torch.softmax(a, dim=-1).max(dim=-1).values
            out.append("- `%s`: std %.3f, min %.3f, max %.3f; top softmax probability per row %.3f..%.3f"
                       % (name, a.std().item(), a.min().item(), a.max().item(), p.min().item(), p.max().item()))
        else:
            out.append("- `%s`: std %.3f, min %.3f, max %.3f" % (name, a.std().item(), a.min().item(), a.max().item()))
    return "\n".join(out)


def write_case(case, weights, inputs, expected, debug, readme, extra_files=()):
    d = os.path.join(HERE, case)
    os.makedirs(d, exist_ok=True)
    if weights is not None:
        save(os.path.join(d, "weights.safetensors"), list(weights.items()))
    save(os.path.join(d, "inputs.safetensors"), inputs)
    save(os.path.join(d, "expected.safetensors"), expected)
    save(os.path.join(d, "debug.safetensors"), debug)
    for name, text in extra_files:
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    with open(os.path.join(d, "README.md"), "w") as f:
        f.write(readme.strip() + "\n")


def hooks(modules):
    """Register forward hooks; returns (dict name -> output, remove function)."""
    got = {}
    handles = []
    for name, m in modules:
        def hook(mod, inp, out, name=name):
            got[name] = out.detach().clone()
        handles.append(m.register_forward_hook(hook))

    def remove():
        for h in handles:
            h.remove()
    return got, remove


COMMON_README = """
## Files

| file | content |
| --- | --- |
{files}
| `README.md` | this file (generated by `tests/ref/make_refs.py`; edit the script, not this file) |

Regenerate with `/usr/bin/python3 tests/ref/make_refs.py {case}` (deterministic). Compare an output
with `python3 tests/ref/compare.py tests/ref/{case}/expected.safetensors OUT.safetensors` (relative
tolerance 1e-4 of max |expected| by default).

Numerics: weights{wsrc} are float32; the reference ran in float64 on them and its outputs were
rounded to float32. A float32 implementation should agree to about 1e-6 relative.
"""


def files_rows(has_weights, weights_note="all parameters, F32 (names and shapes under Tensors)", extra=()):
    rows = []
    if has_weights:
        rows.append("| `weights.safetensors` | %s |" % weights_note)
    rows += ["| `inputs.safetensors` | graph inputs, I32 |",
             "| `expected.safetensors` | expected outputs, F32 |",
             "| `debug.safetensors` | intermediate activations of the reference, F32 (listed below) |"]
    rows += list(extra)
    return "\n".join(rows)


# ----------------------------------------------------------------------------------------------
# GPT-2: nanoGPT's model.py (Karpathy), loading Hugging Face GPT-2 (Conv1D) weights the way
# nanoGPT's GPT.from_pretrained does (transposing the four Conv1D matrices).
# ----------------------------------------------------------------------------------------------

class NanoGPTConfig:
    def __init__(self, block_size, vocab_size, n_layer, n_head, n_embd):
        self.block_size = block_size
        self.vocab_size = vocab_size
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_embd = n_embd
        self.dropout = 0.0
        self.bias = True


class NanoLayerNorm(nn.Module):
    """ LayerNorm but with an optional bias. PyTorch doesn't support simply bias=False """

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, input):
        return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)


class NanoCausalSelfAttention(nn.Module):

    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        # key, query, value projections for all heads, but in a batch
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        # output projection
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        # causal mask to ensure that attention is only applied to the left in the input sequence
        # (nanoGPT's slow path; the flash path needs torch >= 2.0 and computes the same thing)
        self.register_buffer("bias", torch.tril(torch.ones(config.block_size, config.block_size))
                             .view(1, 1, config.block_size, config.block_size))

    def forward(self, x):
        B, T, C = x.size()  # batch size, sequence length, embedding dimensionality (n_embd)
        # calculate query, key, values for all heads in batch and move head forward to be the batch dim
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        # manual implementation of attention
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float('-inf'))
        att = F.softmax(att, dim=-1)
        y = att @ v  # (B, nh, T, T) x (B, nh, T, hs) -> (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble all head outputs side by side
        # output projection
        y = self.c_proj(y)
        return y


class NanoMLP(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        # nanoGPT uses nn.GELU() (erf); GPT-2's "gelu_new" is the tanh approximation:
        self.gelu = nn.GELU(approximate='tanh')
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x):
        x = self.c_fc(x)
        x = self.gelu(x)
        x = self.c_proj(x)
        return x


class NanoBlock(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.ln_1 = NanoLayerNorm(config.n_embd, bias=config.bias)
        self.attn = NanoCausalSelfAttention(config)
        self.ln_2 = NanoLayerNorm(config.n_embd, bias=config.bias)
        self.mlp = NanoMLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class NanoGPT(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            h=nn.ModuleList([NanoBlock(config) for _ in range(config.n_layer)]),
            ln_f=NanoLayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying

    def forward(self, idx):
        b, t = idx.size()
        assert t <= self.config.block_size
        pos = torch.arange(0, t, dtype=torch.long)  # shape (t)
        tok_emb = self.transformer.wte(idx)  # token embeddings of shape (b, t, n_embd)
        pos_emb = self.transformer.wpe(pos)  # position embeddings of shape (t, n_embd)
        x = tok_emb + pos_emb
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)  # all positions (nanoGPT's training path)
        return logits

    def load_hf(self, sd_hf, prefix):
        """As nanoGPT's from_pretrained: HF Conv1D weights are [in, out]; nn.Linear wants [out, in]."""
        transposed = ['attn.c_attn.weight', 'attn.c_proj.weight', 'mlp.c_fc.weight', 'mlp.c_proj.weight']
        sd = self.state_dict()
        keys = [k for k in sd if not k.endswith('.attn.bias') and k != 'lm_head.weight']
        assert len(keys) == len(sd_hf), (len(keys), len(sd_hf))
        with torch.no_grad():
            for k in keys:
                src = t64(sd_hf[prefix + k[len('transformer.'):]])
                if any(k.endswith(w) for w in transposed):
                    sd[k].copy_(src.t())
                else:
                    sd[k].copy_(src)


def gpt2_manual(W, prefix, n_layer, n_head, tokens, layout, lm_head=None, eps=1e-5):
    """Second computation of a GPT-2 block stack: per-sequence, per-head, per-query loops, explicit
    formulas. layout 'in_out': y = x @ W + b (HF Conv1D); 'out_in': y = x @ W.T + b (nn.Linear)."""
    w = {k: t64(v) for k, v in W.items()}
    g = lambda n: w[prefix + n]

    def lin(x, name):
        Wm = g(name + '.weight')
        y = x @ Wm if layout == 'in_out' else x @ Wm.t()
        if prefix + name + '.bias' in w:
            y = y + g(name + '.bias')
        return y

    def ln(x, name):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * g(name + '.weight') + g(name + '.bias')

    def gelu(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    outs = []
    for b in range(tokens.shape[0]):
        ids = t64(tokens[b])
        T = ids.shape[0]
        x = g('wte.weight')[ids] + g('wpe.weight')[:T]
        C = x.shape[1]
        hd = C // n_head
        for l in range(n_layer):
            p = 'h.%d.' % l
            qkv = lin(ln(x, p + 'ln_1'), p + 'attn.c_attn')
            q, k, v = qkv[:, :C], qkv[:, C:2 * C], qkv[:, 2 * C:]
            att = torch.zeros(T, C)
            for h in range(n_head):
                s = slice(h * hd, (h + 1) * hd)
                for i in range(T):
                    sc = torch.stack([(q[i, s] * k[j, s]).sum() / math.sqrt(hd) for j in range(i + 1)])
                    pr = torch.exp(sc - sc.max())
                    pr = pr / pr.sum()
                    att[i, s] = (pr[:, None] * v[:i + 1, s]).sum(0)
            x = x + lin(att, p + 'attn.c_proj')
            x = x + lin(gelu(lin(ln(x, p + 'ln_2'), p + 'mlp.c_fc')), p + 'mlp.c_proj')
        x = ln(x, 'ln_f')
        head = g('wte.weight') if lm_head is None else t64(W[lm_head])
        outs.append(x @ head.t())
    return torch.stack(outs)


def gpt2_weights(init, C, n_layer, n_pos, vocab, prefix):
    W = {}
    W[prefix + 'wte.weight'] = init.normal([vocab, C], 0.3)
    W[prefix + 'wpe.weight'] = init.normal([n_pos, C], 0.2)
    for l in range(n_layer):
        p = prefix + 'h.%d.' % l
        W[p + 'ln_1.weight'] = init.ln_weight(C)
        W[p + 'ln_1.bias'] = init.ln_bias(C)
        W[p + 'attn.c_attn.weight'] = init.normal([C, 3 * C], 0.2)
        W[p + 'attn.c_attn.bias'] = init.normal([3 * C], 0.1)
        W[p + 'attn.c_proj.weight'] = init.normal([C, C], 0.2)
        W[p + 'attn.c_proj.bias'] = init.normal([C], 0.1)
        W[p + 'ln_2.weight'] = init.ln_weight(C)
        W[p + 'ln_2.bias'] = init.ln_bias(C)
        W[p + 'mlp.c_fc.weight'] = init.normal([C, 4 * C], 0.2)
        W[p + 'mlp.c_fc.bias'] = init.normal([4 * C], 0.1)
        W[p + 'mlp.c_proj.weight'] = init.normal([4 * C, C], 0.1)
        W[p + 'mlp.c_proj.bias'] = init.normal([C], 0.1)
    W[prefix + 'ln_f.weight'] = init.ln_weight(C)
    W[prefix + 'ln_f.bias'] = init.ln_bias(C)
    return W


GPT2_README = """
# {case}: GPT-2 (Hugging Face layout), random weights

{intro}

## Architecture

| | |
| --- | --- |
| n_embd (C) | {C} |
| n_head | {H} (head_dim {hd}) |
| n_layer | {L} |
| n_positions | {P} |
| vocab_size | {V} |
| MLP | C → 4C = {C4} → C, GELU tanh approximation (HF "gelu_new") |
| norms | LayerNorm eps 1e-5, pre-LN (`ln_1`, `ln_2`), final `ln_f` |
| lm_head | tied: logits = ln_f(x) · wteᵀ (no `lm_head.weight` tensor, no bias) |
| attention | causal, scaled by 1/√head_dim, no dropout |

Weight layout: Hugging Face GPT-2 `Conv1D`, i.e. **[in, out]** and `y = x @ W + b`
(`c_attn.weight` [C, 3C], `c_proj.weight` [C, C], `mlp.c_fc.weight` [C, 4C], `mlp.c_proj.weight` [4C, C]).
`c_attn` output columns 0..C-1 are q, C..2C-1 k, 2C..3C-1 v; head h uses columns h·hd .. h·hd+hd-1
of each.

## Forward pass (formulas)

For one sequence of T token ids t[0..T-1] (the batch dimension of the files is 1):

```
x[i]   = wte[t[i]] + wpe[i]                                   # (T, C)
for each layer N:
  a     = LN(x; ln_1)                                         # LN(x) = (x-μ)/sqrt(σ²+1e-5)·w + b, μ, σ² over C (biased variance)
  qkv   = a @ c_attn.weight + c_attn.bias                     # (T, 3C)
  q, k, v = qkv[:, 0:C], qkv[:, C:2C], qkv[:, 2C:3C]          # each (T, C) = (T, n_head, hd)
  s_h[i,j] = q_h[i]·k_h[j] / sqrt(hd)  for j <= i, -inf for j > i     # per head h
  p_h   = softmax_j(s_h)
  y_h[i] = Σ_j p_h[i,j] v_h[j];   y = concat_h y_h            # (T, C)
  x     = x + y @ attn.c_proj.weight + attn.c_proj.bias
  m     = LN(x; ln_2) @ mlp.c_fc.weight + mlp.c_fc.bias       # (T, 4C)
  m     = 0.5·m·(1 + tanh(sqrt(2/π)·(m + 0.044715·m³)))
  x     = x + m @ mlp.c_proj.weight + mlp.c_proj.bias
x      = LN(x; ln_f)
logits = x @ wteᵀ                                             # (T, V)
```

## Reference implementation

nanoGPT's `model.py` (github.com/karpathy/nanoGPT: `CausalSelfAttention` manual-attention path,
`MLP`, `Block`, `GPT`), loading these HF-layout weights as nanoGPT's `GPT.from_pretrained` does
(transposing `attn.c_attn`, `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj` weights into `nn.Linear`),
with one change: `nn.GELU(approximate='tanh')` instead of nanoGPT's erf `nn.GELU()`, because
GPT-2's `activation_function` is "gelu_new". All positions' logits are produced (nanoGPT's
training path).

## Tensors

Weights (`weights.safetensors`, random: numpy RandomState({seed}); wte std 0.3, wpe 0.2, c_attn/c_proj/c_fc
weights 0.2, mlp.c_proj weight 0.1, biases 0.1, LayerNorm weights 1 + 0.1·N(0,1), biases 0.1·N(0,1)):

{wtable}

Inputs (`inputs.safetensors`; ids uniform in [0, {V})):

{itable}

{ids}

Expected (`expected.safetensors`):

{etable}

{stats}

Debug (`debug.safetensors`): `embed` = wte[t]+wpe (1, T, C); `h.N` = residual stream after block N
(1, T, C); `ln_f` = after the final LayerNorm (1, T, C).

## Cross-checks

{cross}
{common}
"""


def case_gpt2(case, seed, C, H, L, P, V, T, prefix, intro, config=None):
    rep = Report(case)
    init = Init(seed)
    W = gpt2_weights(init, C, L, P, V, prefix)
    tokens = init.ids([1, T], 0, V)

    model = NanoGPT(NanoGPTConfig(P, V, L, H, C))
    model.load_hf(W, prefix)
    model.eval()
    got, remove = hooks([('h.%d' % i, b) for i, b in enumerate(model.transformer.h)] +
                        [('ln_f', model.transformer.ln_f)])
    with torch.no_grad():
        logits = model(t64(tokens))
    remove()
    embed = t64(W[prefix + 'wte.weight'])[t64(tokens)] + t64(W[prefix + 'wpe.weight'])[:T]
    debug = [('embed', embed)] + [(k, got[k]) for k in ['h.%d' % i for i in range(L)] + ['ln_f']]

    manual = gpt2_manual(W, prefix, L, H, tokens, 'in_out')
    rep.check("nanoGPT (nn.Linear, transposed weights, batched heads) vs per-head/per-query loop "
              "directly on the [in,out] Conv1D weights (logits)", logits, manual)

    expected = [('logits', logits)]
    inputs = [('tokens', tokens)]
    extra = []
    extra_rows = []
    if config is not None:
        extra.append(('config.json', json.dumps(config, indent=2) + "\n"))
        extra_rows.append("| `config.json` | Hugging Face GPT2Config of this model (for `kiln import`) |")
        extra_rows.append("| `model.safetensors` | symbolic link to `weights.safetensors`, so that the folder "
                          "reads as a Hugging Face model folder |")
    readme = GPT2_README.format(
        case=case, intro=intro, C=C, H=H, hd=C // H, L=L, P=P, V=V, C4=4 * C, seed=seed,
        wtable=tensor_table(list(W.items())), itable=tensor_table(inputs), ids=ids_text(inputs),
        etable=tensor_table(expected), stats=stats_text(expected), cross=rep.text(),
        common=COMMON_README.format(files=files_rows(True, extra=extra_rows), case=case, wsrc=""))
    write_case(case, W, inputs, expected, debug, readme, extra)
    if config is not None:
        link = os.path.join(HERE, case, 'model.safetensors')
        if os.path.lexists(link):
            os.remove(link)
        os.symlink('weights.safetensors', link)
    return rep


def gpt2_config(C, H, L, P, V):
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "activation_function": "gelu_new",
        "attn_pdrop": 0.0,
        "bos_token_id": V - 1,
        "embd_pdrop": 0.0,
        "eos_token_id": V - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "n_ctx": P,
        "n_embd": C,
        "n_head": H,
        "n_inner": None,
        "n_layer": L,
        "n_positions": P,
        "resid_pdrop": 0.0,
        "scale_attn_weights": True,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "vocab_size": V,
    }


# ----------------------------------------------------------------------------------------------
# makemore: Karpathy's makemore.py Transformer (github.com/karpathy/makemore), verbatim structure
# ----------------------------------------------------------------------------------------------

class ModelConfig:
    def __init__(self, block_size, vocab_size, n_layer=4, n_embd=64, n_embd2=64, n_head=4):
        self.block_size = block_size
        self.vocab_size = vocab_size
        self.n_layer = n_layer
        self.n_embd = n_embd
        self.n_embd2 = n_embd2
        self.n_head = n_head


class NewGELU(nn.Module):
    """
    Implementation of the GELU activation function currently in Google BERT repo (identical to OpenAI GPT).
    Reference: Gaussian Error Linear Units (GELU) paper: https://arxiv.org/abs/1606.08415
    """
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class CausalSelfAttention(nn.Module):
    """
    A vanilla multi-head masked self-attention layer with a projection at the end.
    """

    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        # key, query, value projections for all heads, but in a batch
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        # output projection
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        # causal mask to ensure that attention is only applied to the left in the input sequence
        self.register_buffer("bias", torch.tril(torch.ones(config.block_size, config.block_size))
                             .view(1, 1, config.block_size, config.block_size))
        self.n_head = config.n_head
        self.n_embd = config.n_embd

    def forward(self, x):
        B, T, C = x.size()  # batch size, sequence length, embedding dimensionality (n_embd)

        # calculate query, key, values for all heads in batch and move head forward to be the batch dim
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)

        # causal self-attention; Self-attend: (B, nh, T, hs) x (B, nh, hs, T) -> (B, nh, T, T)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float('-inf'))
        att = F.softmax(att, dim=-1)
        y = att @ v  # (B, nh, T, T) x (B, nh, T, hs) -> (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble all head outputs side by side

        # output projection
        y = self.c_proj(y)
        return y


class Block(nn.Module):
    """ an unassuming Transformer block """

    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.ModuleDict(dict(
            c_fc=nn.Linear(config.n_embd, 4 * config.n_embd),
            c_proj=nn.Linear(4 * config.n_embd, config.n_embd),
            act=NewGELU(),
        ))
        m = self.mlp
        self.mlpf = lambda x: m.c_proj(m.act(m.c_fc(x)))  # MLP forward

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlpf(self.ln_2(x))
        return x


class Transformer(nn.Module):
    """ Transformer Language Model, exactly as seen in GPT-2 """

    def __init__(self, config):
        super().__init__()
        self.block_size = config.block_size

        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)

    def forward(self, idx, targets=None):
        b, t = idx.size()
        assert t <= self.block_size, f"Cannot forward sequence of length {t}, block size is only {self.block_size}"
        pos = torch.arange(0, t, dtype=torch.long).unsqueeze(0)  # shape (1, t)

        # forward the GPT model itself
        tok_emb = self.transformer.wte(idx)  # token embeddings of shape (b, t, n_embd)
        pos_emb = self.transformer.wpe(pos)  # position embeddings of shape (1, t, n_embd)
        x = tok_emb + pos_emb
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)
        return logits


def encode_name(s):
    return [0 if c == '.' else ord(c) - ord('a') + 1 for c in s]


MAKEMORE_README = """
# {case}: the trained makemore GPT `{model}` (real weights)

Reference outputs for the real trained model in `../shared/models/{model}/model.safetensors`
(read that folder's README.md for its provenance). The weights are **not** copied here: load
them from `$KILN_SHARED/models/{model}/model.safetensors`.

## Architecture

| | |
| --- | --- |
| n_layer | 4 |
| n_head | 4 (head_dim 16) |
| n_embd (C) | 64 |
| block_size (positions) | {B} |
| vocab_size | 27: 0 = `.` (start/end), 1..26 = `a`..`z` |
| MLP | 64 → 256 → 64, GELU tanh approximation (makemore's `NewGELU`) |
| norms | LayerNorm eps 1e-5 (torch default), pre-LN (`ln_1`, `ln_2`), final `ln_f` |
| lm_head | separate `lm_head.weight` [27, 64], no bias |
| attention | causal, scaled by 1/√16 |

Weight layout: **torch `nn.Linear`, [out, in]**, `y = x @ Wᵀ + b` (transposed relative to
Hugging Face GPT-2's Conv1D). Names: `transformer.wte.weight` [27,64], `transformer.wpe.weight`
[{B},64], `transformer.h.N.ln_1.{{weight,bias}}`, `transformer.h.N.attn.c_attn.weight` [192,64] + `.bias`
[192], `transformer.h.N.attn.c_proj.weight` [64,64] + `.bias`, `transformer.h.N.ln_2.*`,
`transformer.h.N.mlp.c_fc.weight` [256,64] + `.bias`, `transformer.h.N.mlp.c_proj.weight` [64,256] +
`.bias`, `transformer.ln_f.*`, `lm_head.weight` [27,64] (N = 0..3). `c_attn` output rows 0..63 are q,
64..127 k, 128..191 v; head h uses rows h·16..h·16+15 of each.

## Forward pass (formulas)

```
x[i]   = wte[t[i]] + wpe[i]                                   # (T, 64), T <= block_size
for N in 0..3:
  a      = LN(x; ln_1)                                        # (x-μ)/sqrt(σ²+1e-5)·w + b over the 64 features
  qkv    = a @ c_attn.weightᵀ + c_attn.bias                   # (T, 192)
  q,k,v  = qkv[:, 0:64], qkv[:, 64:128], qkv[:, 128:192]      # split into 4 heads of 16
  s_h[i,j] = q_h[i]·k_h[j] / 4  (j <= i), -inf (j > i);  p_h = softmax_j(s_h)
  y      = concat_h Σ_j p_h[i,j] v_h[j]                       # (T, 64)
  x      = x + y @ attn.c_proj.weightᵀ + attn.c_proj.bias
  m      = LN(x; ln_2) @ mlp.c_fc.weightᵀ + mlp.c_fc.bias      # (T, 256)
  m      = 0.5·m·(1 + tanh(sqrt(2/π)·(m + 0.044715·m³)))
  x      = x + m @ mlp.c_proj.weightᵀ + mlp.c_proj.bias
logits = LN(x; ln_f) @ lm_head.weightᵀ                        # (T, 27)
```

## Reference implementation

makemore's `makemore.py` (github.com/karpathy/makemore): classes `NewGELU`, `CausalSelfAttention`,
`Block`, `Transformer` reproduced verbatim (minus training code), the state dict loaded with the
four `attn.bias` causal-mask buffers rebuilt by the constructor (they are not in the file).

## Tensors

Inputs (`inputs.safetensors`), several sequences, each with its own batch of 1:

{itable}

{ids}

Expected (`expected.safetensors`): `logits_k` is the output for `tokens_k`:

{etable}

{stats}

Debug (`debug.safetensors`): for each k, `k.embed` (1, T, 64), `k.h.N` = residual stream after
block N, `k.ln_f` = after the final LayerNorm.

## Cross-checks

{cross}
{common}
"""


def case_makemore(case, model_name, names):
    rep = Report(case)
    path = os.path.join(SHARED, 'models', model_name, 'model.safetensors')
    W = load_safetensors(path)
    B = W['transformer.wpe.weight'].shape[0]
    V = W['transformer.wte.weight'].shape[0]
    n_layer = len({k.split('.')[2] for k in W if k.startswith('transformer.h.')})
    model = Transformer(ModelConfig(block_size=B, vocab_size=V, n_layer=n_layer, n_embd=64, n_head=4))
    missing, unexpected = model.load_state_dict({k: t64(v) for k, v in W.items()}, strict=False)
    assert not unexpected and all(k.endswith('.attn.bias') for k in missing) and len(missing) == n_layer
    model.eval()

    inputs, expected, debug = [], [], []
    for kidx, s in enumerate(names):
        ids = np.array([encode_name(s)], dtype=np.int32)
        assert ids.shape[1] <= B
        got, remove = hooks([('h.%d' % i, b) for i, b in enumerate(model.transformer.h)] +
                            [('ln_f', model.transformer.ln_f)])
        with torch.no_grad():
            logits = model(t64(ids))
        remove()
        T = ids.shape[1]
        embed = t64(W['transformer.wte.weight'])[t64(ids)] + t64(W['transformer.wpe.weight'])[:T]
        inputs.append(('tokens_%d' % kidx, ids))
        expected.append(('logits_%d' % kidx, logits))
        debug.append(('%d.embed' % kidx, embed))
        debug += [('%d.%s' % (kidx, k), got[k]) for k in ['h.%d' % i for i in range(n_layer)] + ['ln_f']]
        manual = gpt2_manual(W, 'transformer.', n_layer, 4, ids, 'out_in', lm_head='lm_head.weight')
        rep.check("tokens_%d %r: makemore Transformer vs per-head/per-query loop (logits)" % (kidx, s),
                  logits, manual)

    ids_lines = "\n".join("- `tokens_%d` = `%s` → %s" % (k, s, json.dumps(encode_name(s)))
                          for k, s in enumerate(names))
    readme = MAKEMORE_README.format(
        case=case, model=model_name, B=B, itable=tensor_table(inputs), ids=ids_lines,
        etable=tensor_table(expected), stats=stats_text(expected), cross=rep.text(),
        common=COMMON_README.format(files=files_rows(False), case=case,
                                    wsrc=" (from ../shared/models/%s/model.safetensors)" % model_name))
    write_case(case, None, inputs, expected, debug, readme)
    return rep


# ----------------------------------------------------------------------------------------------
# LLaMA, interleaved RoPE: llama2.c's model.py (= Meta's llama model.py) with view_as_complex
# ----------------------------------------------------------------------------------------------

class ModelArgs:
    def __init__(self):
        self.dim = 32
        self.n_layers = 2
        self.n_heads = 4
        self.n_kv_heads = 2
        self.vocab_size = 64
        self.hidden_dim = 64
        self.norm_eps = 1e-5
        self.max_seq_len = 16
        self.rope_theta = 10000.0


class RMSNorm(torch.nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def _norm(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)

    def forward(self, x):
        output = self._norm(x.double()).type_as(x)  # model.py: x.float(); float64 here
        return output * self.weight


def precompute_freqs_cis(dim: int, end: int, theta: float = 10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].double() / dim))
    t = torch.arange(end, device=freqs.device)  # type: ignore
    freqs = torch.outer(t, freqs).double()  # type: ignore
    freqs_cis = torch.polar(torch.ones_like(freqs), freqs)  # complex128 (complex64 in model.py)
    return freqs_cis


def reshape_for_broadcast(freqs_cis, x):
    ndim = x.ndim
    assert 0 <= 1 < ndim
    assert freqs_cis.shape == (x.shape[1], x.shape[-1])
    shape = [d if i == 1 or i == ndim - 1 else 1 for i, d in enumerate(x.shape)]
    return freqs_cis.view(*shape)


def apply_rotary_emb(xq, xk, freqs_cis):
    xq_ = torch.view_as_complex(xq.double().reshape(*xq.shape[:-1], -1, 2))
    xk_ = torch.view_as_complex(xk.double().reshape(*xk.shape[:-1], -1, 2))
    freqs_cis = reshape_for_broadcast(freqs_cis, xq_)
    xq_out = torch.view_as_real(xq_ * freqs_cis).flatten(3)
    xk_out = torch.view_as_real(xk_ * freqs_cis).flatten(3)
    return xq_out.type_as(xq), xk_out.type_as(xk)


def repeat_kv(x, n_rep: int):
    """torch.repeat_interleave(x, dim=2, repeats=n_rep)"""
    bs, slen, n_kv_heads, head_dim = x.shape
    if n_rep == 1:
        return x
    return (
        x[:, :, :, None, :]
        .expand(bs, slen, n_kv_heads, n_rep, head_dim)
        .reshape(bs, slen, n_kv_heads * n_rep, head_dim)
    )


class Attention(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.n_kv_heads = args.n_heads if args.n_kv_heads is None else args.n_kv_heads
        model_parallel_size = 1
        self.n_local_heads = args.n_heads // model_parallel_size
        self.n_local_kv_heads = self.n_kv_heads // model_parallel_size
        self.n_rep = self.n_local_heads // self.n_local_kv_heads
        self.head_dim = args.dim // args.n_heads
        self.wq = nn.Linear(args.dim, args.n_heads * self.head_dim, bias=False)
        self.wk = nn.Linear(args.dim, self.n_kv_heads * self.head_dim, bias=False)
        self.wv = nn.Linear(args.dim, self.n_kv_heads * self.head_dim, bias=False)
        self.wo = nn.Linear(args.n_heads * self.head_dim, args.dim, bias=False)
        mask = torch.full((1, 1, args.max_seq_len, args.max_seq_len), float("-inf"))
        mask = torch.triu(mask, diagonal=1)
        self.register_buffer("mask", mask)

    def forward(self, x, freqs_cis):
        bsz, seqlen, _ = x.shape

        # QKV
        xq, xk, xv = self.wq(x), self.wk(x), self.wv(x)
        xq = xq.view(bsz, seqlen, self.n_local_heads, self.head_dim)
        xk = xk.view(bsz, seqlen, self.n_local_kv_heads, self.head_dim)
        xv = xv.view(bsz, seqlen, self.n_local_kv_heads, self.head_dim)

        # RoPE relative positional embeddings
        xq, xk = apply_rotary_emb(xq, xk, freqs_cis)

        # grouped multiquery attention: expand out keys and values
        xk = repeat_kv(xk, self.n_rep)  # (bs, seqlen, n_local_heads, head_dim)
        xv = repeat_kv(xv, self.n_rep)  # (bs, seqlen, n_local_heads, head_dim)

        # make heads into a batch dimension
        xq = xq.transpose(1, 2)  # (bs, n_local_heads, seqlen, head_dim)
        xk = xk.transpose(1, 2)
        xv = xv.transpose(1, 2)

        # manual implementation
        scores = torch.matmul(xq, xk.transpose(2, 3)) / math.sqrt(self.head_dim)
        scores = scores + self.mask[:, :, :seqlen, :seqlen]  # (bs, n_local_heads, seqlen, cache_len + seqlen)
        scores = F.softmax(scores.double(), dim=-1).type_as(xq)
        output = torch.matmul(scores, xv)  # (bs, n_local_heads, seqlen, head_dim)

        # restore time as batch dimension and concat heads
        output = output.transpose(1, 2).contiguous().view(bsz, seqlen, -1)

        # final projection into the residual stream
        output = self.wo(output)
        return output


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden_dim, bias=False)
        self.w2 = nn.Linear(hidden_dim, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden_dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TransformerBlock(nn.Module):
    def __init__(self, layer_id: int, args: ModelArgs):
        super().__init__()
        self.n_heads = args.n_heads
        self.dim = args.dim
        self.head_dim = args.dim // args.n_heads
        self.attention = Attention(args)
        self.feed_forward = FeedForward(dim=args.dim, hidden_dim=args.hidden_dim)
        self.layer_id = layer_id
        self.attention_norm = RMSNorm(args.dim, eps=args.norm_eps)
        self.ffn_norm = RMSNorm(args.dim, eps=args.norm_eps)

    def forward(self, x, freqs_cis):
        h = x + self.attention.forward(self.attention_norm(x), freqs_cis)
        out = h + self.feed_forward.forward(self.ffn_norm(h))
        return out


class LlamaTransformer(nn.Module):
    def __init__(self, params: ModelArgs):
        super().__init__()
        self.params = params
        self.vocab_size = params.vocab_size
        self.n_layers = params.n_layers
        self.tok_embeddings = nn.Embedding(params.vocab_size, params.dim)
        self.layers = torch.nn.ModuleList()
        for layer_id in range(params.n_layers):
            self.layers.append(TransformerBlock(layer_id, params))
        self.norm = RMSNorm(params.dim, eps=params.norm_eps)
        self.output = nn.Linear(params.dim, params.vocab_size, bias=False)
        freqs_cis = precompute_freqs_cis(params.dim // params.n_heads, params.max_seq_len, params.rope_theta)
        self.register_buffer("freqs_cis", freqs_cis, persistent=False)

    def forward(self, tokens):
        _bsz, seqlen = tokens.shape
        h = self.tok_embeddings(tokens)
        freqs_cis = self.freqs_cis[:seqlen]
        for layer in self.layers:
            h = layer(h, freqs_cis)
        h = self.norm(h)
        logits = self.output(h)  # all positions (model.py's training path)
        return logits


# ----------------------------------------------------------------------------------------------
# LLaMA, rotate_half RoPE: Hugging Face transformers modeling_llama.py (LlamaModel / LlamaForCausalLM)
# ----------------------------------------------------------------------------------------------

class LlamaRMSNormHF(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float64)  # HF: float32
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class LlamaRotaryEmbeddingHF(nn.Module):
    def __init__(self, dim, base=10000):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).double() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x, position_ids):
        inv_freq_expanded = self.inv_freq[None, :, None].double().expand(position_ids.shape[0], -1, 1)
        position_ids_expanded = position_ids[:, None, :].double()
        freqs = (inv_freq_expanded @ position_ids_expanded).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos()
        sin = emb.sin()
        return cos.to(dtype=x.dtype), sin.to(dtype=x.dtype)


def rotate_half(x):
    """Rotates half the hidden dims of the input."""
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1):
    cos = cos.unsqueeze(unsqueeze_dim)
    sin = sin.unsqueeze(unsqueeze_dim)
    q_embed = (q * cos) + (rotate_half(q) * sin)
    k_embed = (k * cos) + (rotate_half(k) * sin)
    return q_embed, k_embed


def repeat_kv_hf(hidden_states, n_rep):
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep, slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


class LlamaAttentionHF(nn.Module):
    def __init__(self, hidden_size, num_heads, num_key_value_heads, rope_theta):
        super().__init__()
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.num_key_value_heads = num_key_value_heads
        self.num_key_value_groups = num_heads // num_key_value_heads
        self.q_proj = nn.Linear(hidden_size, num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden_size, num_key_value_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden_size, num_key_value_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(hidden_size, hidden_size, bias=False)
        self.rotary_emb = LlamaRotaryEmbeddingHF(self.head_dim, base=rope_theta)

    def forward(self, hidden_states, attention_mask, position_ids):
        bsz, q_len, _ = hidden_states.size()
        query_states = self.q_proj(hidden_states)
        key_states = self.k_proj(hidden_states)
        value_states = self.v_proj(hidden_states)
        query_states = query_states.view(bsz, q_len, self.num_heads, self.head_dim).transpose(1, 2)
        key_states = key_states.view(bsz, q_len, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        value_states = value_states.view(bsz, q_len, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        cos, sin = self.rotary_emb(value_states, position_ids)
        query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)
        key_states = repeat_kv_hf(key_states, self.num_key_value_groups)
        value_states = repeat_kv_hf(value_states, self.num_key_value_groups)
        attn_weights = torch.matmul(query_states, key_states.transpose(2, 3)) / math.sqrt(self.head_dim)
        causal_mask = attention_mask[:, :, :, : key_states.shape[-2]]
        attn_weights = attn_weights + causal_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float64).to(query_states.dtype)
        attn_output = torch.matmul(attn_weights, value_states)
        attn_output = attn_output.transpose(1, 2).contiguous()
        attn_output = attn_output.reshape(bsz, q_len, self.hidden_size)
        attn_output = self.o_proj(attn_output)
        return attn_output


class LlamaMLPHF(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayerHF(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.self_attn = LlamaAttentionHF(a.dim, a.n_heads, a.n_kv_heads, a.rope_theta)
        self.mlp = LlamaMLPHF(a.dim, a.hidden_dim)
        self.input_layernorm = LlamaRMSNormHF(a.dim, eps=a.norm_eps)
        self.post_attention_layernorm = LlamaRMSNormHF(a.dim, eps=a.norm_eps)

    def forward(self, hidden_states, attention_mask, position_ids):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states = self.self_attn(hidden_states, attention_mask, position_ids)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.post_attention_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        hidden_states = residual + hidden_states
        return hidden_states


class LlamaForCausalLMHF(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.embed_tokens = nn.Embedding(a.vocab_size, a.dim)
        self.layers = nn.ModuleList([LlamaDecoderLayerHF(a) for _ in range(a.n_layers)])
        self.norm = LlamaRMSNormHF(a.dim, eps=a.norm_eps)
        self.lm_head = nn.Linear(a.dim, a.vocab_size, bias=False)

    def forward(self, input_ids):
        bsz, T = input_ids.shape
        position_ids = torch.arange(T)[None, :].expand(bsz, T)
        min_dtype = torch.finfo(torch.float64).min
        causal_mask = torch.triu(torch.full((T, T), min_dtype), diagonal=1)[None, None].expand(bsz, 1, T, T)
        h = self.embed_tokens(input_ids)
        for layer in self.layers:
            h = layer(h, causal_mask, position_ids)
        h = self.norm(h)
        return self.lm_head(h)

    def load_llama2c_names(self, W, permute_qk=None):
        """Map llama2.c names onto HF modules; permute_qk(w, n_heads) is applied to wq/wk if given."""
        sd = {'embed_tokens.weight': W['tok_embeddings.weight'], 'norm.weight': W['norm.weight'],
              'lm_head.weight': W['output.weight']}
        for l in range(len(self.layers)):
            p, q = 'layers.%d.' % l, 'layers.%d.' % l
            sd[q + 'self_attn.q_proj.weight'] = W[p + 'attention.wq.weight']
            sd[q + 'self_attn.k_proj.weight'] = W[p + 'attention.wk.weight']
            sd[q + 'self_attn.v_proj.weight'] = W[p + 'attention.wv.weight']
            sd[q + 'self_attn.o_proj.weight'] = W[p + 'attention.wo.weight']
            sd[q + 'mlp.gate_proj.weight'] = W[p + 'feed_forward.w1.weight']
            sd[q + 'mlp.down_proj.weight'] = W[p + 'feed_forward.w2.weight']
            sd[q + 'mlp.up_proj.weight'] = W[p + 'feed_forward.w3.weight']
            sd[q + 'input_layernorm.weight'] = W[p + 'attention_norm.weight']
            sd[q + 'post_attention_layernorm.weight'] = W[p + 'ffn_norm.weight']
        sd = {k: t64(v) for k, v in sd.items()}
        if permute_qk is not None:
            for l in range(len(self.layers)):
                q = 'layers.%d.self_attn.' % l
                att = self.layers[l].self_attn
                sd[q + 'q_proj.weight'] = permute_qk(sd[q + 'q_proj.weight'], att.num_heads)
                sd[q + 'k_proj.weight'] = permute_qk(sd[q + 'k_proj.weight'], att.num_key_value_heads)
        self.load_state_dict(sd, strict=True)


def hf_permute(w, n_heads):
    """convert_llama_weights_to_hf.py: permute for sliced rotary (interleaved pairs -> halves)."""
    dim1, dim2 = w.shape
    return w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)


def llama_runc(W, tokens, a):
    """Third computation, llama2.c's run.c loop structure (per position, per head, explicit real
    cos/sin rotation of pairs (2i, 2i+1), kv head = h / (n_heads / n_kv_heads))."""
    w = {k: t64(v) for k, v in W.items()}
    hd = a.dim // a.n_heads
    kv_mul = a.n_heads // a.n_kv_heads

    def rmsnorm(x, wt):
        ss = (x * x).sum() / x.shape[0] + a.norm_eps
        return wt * (x / math.sqrt(ss.item()))

    outs = []
    for b in range(tokens.shape[0]):
        T = tokens.shape[1]
        kc = [[None] * T for _ in range(a.n_layers)]
        vc = [[None] * T for _ in range(a.n_layers)]
        rows = []
        for pos in range(T):
            x = w['tok_embeddings.weight'][int(tokens[b, pos])].clone()
            for l in range(a.n_layers):
                p = 'layers.%d.' % l
                xb = rmsnorm(x, w[p + 'attention_norm.weight'])
                q = w[p + 'attention.wq.weight'] @ xb
                k = w[p + 'attention.wk.weight'] @ xb
                v = w[p + 'attention.wv.weight'] @ xb
                for i in range(0, a.dim, 2):
                    head_dim = i % hd
                    freq = 1.0 / (10000.0 ** (head_dim / hd))
                    val = pos * freq
                    fcr, fci = math.cos(val), math.sin(val)
                    rotn = 2 if i < a.n_kv_heads * hd else 1
                    for which in range(rotn):
                        vec = q if which == 0 else k
                        v0, v1 = vec[i].item(), vec[i + 1].item()
                        vec[i] = v0 * fcr - v1 * fci
                        vec[i + 1] = v0 * fci + v1 * fcr
                kc[l][pos] = k
                vc[l][pos] = v
                out = torch.zeros(a.dim)
                for h in range(a.n_heads):
                    qh = q[h * hd:(h + 1) * hd]
                    kvh = h // kv_mul
                    att = torch.stack([(qh * kc[l][t][kvh * hd:(kvh + 1) * hd]).sum() / math.sqrt(hd)
                                       for t in range(pos + 1)])
                    att = torch.exp(att - att.max())
                    att = att / att.sum()
                    for t in range(pos + 1):
                        out[h * hd:(h + 1) * hd] += att[t] * vc[l][t][kvh * hd:(kvh + 1) * hd]
                x = x + w[p + 'attention.wo.weight'] @ out
                xb = rmsnorm(x, w[p + 'ffn_norm.weight'])
                hb = w[p + 'feed_forward.w1.weight'] @ xb
                hb2 = w[p + 'feed_forward.w3.weight'] @ xb
                hb = hb * (1.0 / (1.0 + torch.exp(-hb))) * hb2
                x = x + w[p + 'feed_forward.w2.weight'] @ hb
            x = rmsnorm(x, w['norm.weight'])
            rows.append(w['output.weight'] @ x)
        outs.append(torch.stack(rows))
    return torch.stack(outs)


def llama_weights(init, a):
    W = {}
    hd = a.dim // a.n_heads
    W['tok_embeddings.weight'] = init.normal([a.vocab_size, a.dim], 0.3)
    for l in range(a.n_layers):
        p = 'layers.%d.' % l
        W[p + 'attention.wq.weight'] = init.normal([a.n_heads * hd, a.dim], 0.2)
        W[p + 'attention.wk.weight'] = init.normal([a.n_kv_heads * hd, a.dim], 0.2)
        W[p + 'attention.wv.weight'] = init.normal([a.n_kv_heads * hd, a.dim], 0.2)
        W[p + 'attention.wo.weight'] = init.normal([a.dim, a.n_heads * hd], 0.2)
        W[p + 'feed_forward.w1.weight'] = init.normal([a.hidden_dim, a.dim], 0.2)
        W[p + 'feed_forward.w2.weight'] = init.normal([a.dim, a.hidden_dim], 0.15)
        W[p + 'feed_forward.w3.weight'] = init.normal([a.hidden_dim, a.dim], 0.2)
        W[p + 'attention_norm.weight'] = init.ln_weight(a.dim)
        W[p + 'ffn_norm.weight'] = init.ln_weight(a.dim)
    W['norm.weight'] = init.ln_weight(a.dim)
    W['output.weight'] = init.normal([a.vocab_size, a.dim], 0.3)
    return W


LLAMA_README = """
# {case}: tiny LLaMA with {rope_name} RoPE, random weights

{intro}

## Architecture

| | |
| --- | --- |
| vocab_size | 64 |
| dim | 32 |
| n_layers | 2 |
| n_heads | 4, head_dim 8 |
| n_kv_heads | 2 (grouped-query attention: kv head j serves query heads 2j and 2j+1) |
| FFN | SwiGLU, hidden 64: `w2(silu(w1 x) * w3 x)`, silu(z) = z·sigmoid(z) |
| norms | RMSNorm eps 1e-5, weight only, pre-norm (`attention_norm`, `ffn_norm`), final `norm` |
| RoPE | theta 10000, {rope_name} (see below), applied to q and k of every head, positions 0..T-1 |
| output | untied `output.weight` [64, 32], no bias; no biases anywhere |
| attention | causal, scaled by 1/√8 |

Weight layout: torch `nn.Linear`, **[out, in]**, `y = x @ Wᵀ`. `wq` rows h·8..h·8+7 belong to
query head h (h = 0..3); `wk`/`wv` rows j·8..j·8+7 to kv head j (j = 0..1).

## Forward pass (formulas)

```
x[i] = tok_embeddings[t[i]]                                   # (T, 32)
for each layer N:
  a      = RMSNorm(x; attention_norm)                         # x / sqrt(mean(x²) + 1e-5) · w
  q      = a @ wqᵀ  (T, 4, 8);  k = a @ wkᵀ (T, 2, 8);  v = a @ wvᵀ (T, 2, 8)
  q, k   = RoPE(q, pos), RoPE(k, pos)
  s_h[i,j] = q_h[i]·k_{{h/2}}[j] / sqrt(8) for j <= i, -inf for j > i;  p_h = softmax_j(s_h)
  y_h[i] = Σ_j p_h[i,j] v_{{h/2}}[j];  y = concat_h y_h      # (T, 32), head h at columns h·8..h·8+7
  x      = x + y @ woᵀ
  b      = RMSNorm(x; ffn_norm)
  x      = x + (silu(b @ w1ᵀ) * (b @ w3ᵀ)) @ w2ᵀ
logits = RMSNorm(x; norm) @ outputᵀ                           # (T, 64)
```

RoPE, with head_dim d = 8, θ_m = 10000^(-2m/d) for m = 0..d/2-1, at position p (0-based):

{rope_formula}

Relation between the two conventions (used as a cross-check): rotate_half RoPE on the weights
`permute(wq, 4)` and `permute(wk, 2)` computes exactly what interleaved RoPE computes on `wq`, `wk`,
where `permute(w, n) = w.view(n, 8 // 2, 2, 32).transpose(1, 2).reshape(n * 8, 32)` (Hugging Face
`convert_llama_weights_to_hf.py`: within each head, output rows 0,2,4,6 come first, then 1,3,5,7).

## Reference implementation

{reference}

## Tensors

Weights (`weights.safetensors`; names as llama2.c's model.py; random: numpy RandomState({seed});
tok_embeddings std 0.3, wq/wk/wv/wo/w1/w3 0.2, w2 0.15, output 0.3, norm weights 1 + 0.1·N(0,1)).
{same_weights}

{wtable}

Inputs (`inputs.safetensors`; ids uniform in [0, 64)):

{itable}

{ids}

Expected (`expected.safetensors`):

{etable}

{stats}

Debug (`debug.safetensors`): `embed` = tok_embeddings[t] (1, T, 32), `layers.N` = residual stream
after layer N (1, T, 32), `norm` = after the final RMSNorm (1, T, 32).

## Cross-checks

{cross}
{common}
"""

ROPE_INTERLEAVED = """Pairs (x[2m], x[2m+1]) of each head vector are rotated by the angle p·θ_m:

```
x'[2m]   = x[2m]·cos(p·θ_m) − x[2m+1]·sin(p·θ_m)
x'[2m+1] = x[2m]·sin(p·θ_m) + x[2m+1]·cos(p·θ_m)
```
(i.e. (x[2m] + i·x[2m+1]) · e^{i·p·θ_m} as complex numbers; llama2.c / Meta layout.)"""

ROPE_HALF = """Pairs (x[m], x[m+d/2]) of each head vector are rotated by the angle p·θ_m
(`x·cos + rotate_half(x)·sin`, with cos/sin = cat(freqs, freqs) and rotate_half(x) = cat(−x[d/2:], x[:d/2])):

```
x'[m]       = x[m]·cos(p·θ_m) − x[m+d/2]·sin(p·θ_m)
x'[m+d/2]   = x[m+d/2]·cos(p·θ_m) + x[m]·sin(p·θ_m)
```
(Hugging Face LlamaModel layout.)"""


def case_llama(rep_i, rep_h):
    a = ModelArgs()
    seed = 4
    init = Init(seed)
    W = llama_weights(init, a)
    tokens = init.ids([1, 12], 0, a.vocab_size)
    inputs = [('tokens', tokens)]

    # interleaved: llama2.c model.py
    m_i = LlamaTransformer(a)
    missing, unexpected = m_i.load_state_dict({k: t64(v) for k, v in W.items()}, strict=False)
    assert not unexpected and all(k.endswith('.mask') for k in missing)
    m_i.eval()
    got, remove = hooks([('layers.%d' % i, b) for i, b in enumerate(m_i.layers)] + [('norm', m_i.norm)])
    with torch.no_grad():
        logits_i = m_i(t64(tokens))
    remove()
    debug_i = [('embed', t64(W['tok_embeddings.weight'])[t64(tokens)])] + \
              [(k, got[k]) for k in ['layers.0', 'layers.1', 'norm']]

    # half: HF LlamaForCausalLM, same weights
    m_h = LlamaForCausalLMHF(a)
    m_h.load_llama2c_names(W)
    m_h.eval()
    got, remove = hooks([('layers.%d' % i, b) for i, b in enumerate(m_h.layers)] + [('norm', m_h.norm)])
    with torch.no_grad():
        logits_h = m_h(t64(tokens))
    remove()
    debug_h = [('embed', t64(W['tok_embeddings.weight'])[t64(tokens)])] + \
              [(k, got[k]) for k in ['layers.0', 'layers.1', 'norm']]

    # cross-checks
    with torch.no_grad():
        runc = llama_runc(W, tokens, a)
        m_p = LlamaForCausalLMHF(a)
        m_p.load_llama2c_names(W, permute_qk=hf_permute)
        m_p.eval()
        logits_p = m_p(t64(tokens))
    rep_i.check("llama2.c model.py (view_as_complex) vs run.c-style per-position/per-head loop "
                "with real cos/sin (logits)", logits_i, runc)
    rep_i.check("llama2.c model.py vs Hugging Face rotate_half model with wq/wk rows permuted as "
                "convert_llama_weights_to_hf.py does (logits)", logits_i, logits_p)
    rep_h.check("Hugging Face rotate_half model on permuted wq/wk vs llama2.c model.py on the original "
                "weights (logits) — validates the rotate_half code path used for this case", logits_p, logits_i)
    d, m = maxdiff(logits_i, logits_h)
    note = ("Sanity: the two RoPE variants on the *same* weights really differ: max |logits(llama-interleaved) "
            "− logits(llama-half)| = %.3f (max |logits| %.3f)." % (d, m))
    rep_h.lines.append(note)
    rep_i.lines.append(note)

    ref_i = ("llama2.c's `model.py` (github.com/karpathy/llama2.c; the `precompute_freqs_cis` / "
             "`reshape_for_broadcast` / `apply_rotary_emb` with `torch.view_as_complex` version, as in "
             "Meta's llama `model.py`), classes `RMSNorm`, `Attention` (with `repeat_kv`), `FeedForward`, "
             "`TransformerBlock`, `Transformer`, with `.float()` replaced by `.double()`; logits of all "
             "positions are produced.")
    ref_h = ("Hugging Face transformers `modeling_llama.py`: `LlamaRMSNorm`, `LlamaRotaryEmbedding`, "
             "`rotate_half`, `apply_rotary_pos_emb`, `repeat_kv`, `LlamaAttention` (eager), `LlamaMLP` "
             "(gate_proj = w1, up_proj = w3, down_proj = w2), `LlamaDecoderLayer`, `LlamaModel` + `lm_head`, "
             "reproduced in float64 with the llama2.c tensor names mapped onto HF modules "
             "(input_layernorm = attention_norm, post_attention_layernorm = ffn_norm, embed_tokens = "
             "tok_embeddings, lm_head = output). The causal mask adds finfo.min above the diagonal.")
    same = ("These are the *same* weights (same file content) as `../llama-%s/weights.safetensors`; "
            "only the RoPE pairing differs, so the logits differ.")
    for case, rep, logits, debug, rope_name, rope_formula, ref, other, intro in [
        ('llama-interleaved', rep_i, logits_i, debug_i, 'interleaved', ROPE_INTERLEAVED, ref_i, 'half',
         "llama2.c / Meta checkpoint convention: RoPE rotates adjacent pairs (x[2m], x[2m+1])."),
        ('llama-half', rep_h, logits_h, debug_h, 'rotate_half', ROPE_HALF, ref_h, 'interleaved',
         "Hugging Face convention: RoPE rotates (x[m], x[m+d/2]) via `rotate_half`.")]:
        expected = [('logits', logits)]
        readme = LLAMA_README.format(
            case=case, rope_name=rope_name, rope_formula=rope_formula, reference=ref, seed=seed, intro=intro,
            same_weights=same % other, wtable=tensor_table(list(W.items())), itable=tensor_table(inputs),
            ids=ids_text(inputs), etable=tensor_table(expected), stats=stats_text(expected), cross=rep.text(),
            common=COMMON_README.format(files=files_rows(True), case=case, wsrc=""))
        write_case(case, W, inputs, expected, debug, readme)


# ----------------------------------------------------------------------------------------------
# llama2xs: the trained llama2.c model ../shared/models/llama2xs-tinystories (real weights, tied
# output), llama2.c's model.py as above; run.c-style loop on the weights of model.bin as cross-check
# ----------------------------------------------------------------------------------------------

LLAMA2XS_MODEL = 'llama2xs-tinystories'
LLAMA2XS_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play with her mom"


def read_tok512(path):
    """llama2.c tokenizer file: int32 max_token_length, then per token f32 score, int32 len, bytes."""
    import struct
    with open(path, 'rb') as f:
        b = f.read()
    max_len, = struct.unpack_from('<i', b, 0)
    off, vocab, scores = 4, [], []
    while off < len(b):
        score, n = struct.unpack_from('<fi', b, off)
        off += 8
        vocab.append(b[off:off + n])
        scores.append(score)
        off += n
    assert off == len(b) and len(vocab) == 512, (path, off, len(vocab))
    return max_len, vocab, scores


def llama2c_encode(text, vocab, scores):
    """run.c's encode() (without BOS/EOS): dummy prefix ' ', one token per UTF-8 character (byte
    fallback id = byte + 3), then repeatedly merge the adjacent pair whose concatenation is the
    vocabulary entry of highest score (leftmost on ties)."""
    idx = {v: i for i, v in enumerate(vocab)}
    toks = [idx[b' ']] if text else []
    for ch in text:
        c = ch.encode('utf-8')
        toks += [idx[c]] if c in idx else [x + 3 for x in c]
    while True:
        best, at, bid = -1e10, -1, -1
        for i in range(len(toks) - 1):
            m = vocab[toks[i]] + vocab[toks[i + 1]]
            if m in idx and scores[idx[m]] > best:
                best, at, bid = scores[idx[m]], i, idx[m]
        if at < 0:
            return toks
        toks[at:at + 2] = [bid]


def greedy_encode(text, vocab, max_len):
    """Second segmentation: ' ' + text, longest vocabulary match from the left (byte fallback)."""
    idx = {v: i for i, v in enumerate(vocab)}
    b = (' ' + text).encode('utf-8')
    out, i = [], 0
    while i < len(b):
        for n in range(min(max_len, len(b) - i), 0, -1):
            if b[i:i + n] in idx:
                out.append(idx[b[i:i + n]])
                i += n
                break
        else:
            out.append(b[i] + 3)
            i += 1
    return out


def read_llama2c_bin(path):
    """llama2.c legacy export (export.py legacy_export / run.c read_checkpoint): 7 int32 header, then
    float32 arrays in run.c's order; returns (config dict, weights dict under llama2.c names)."""
    raw = np.fromfile(path, dtype='<i4', count=7)
    dim, hidden, L, H, KV, V, S = (int(x) for x in raw)
    shared = V > 0
    V = abs(V)
    hd = dim // H
    data = np.fromfile(path, dtype='<f4', offset=7 * 4)
    off = 0

    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        a = data[off:off + n].reshape(shape)
        off += n
        return a

    W = {'tok_embeddings.weight': take(V, dim)}
    per_layer = [('attention_norm.weight', (dim,)), ('attention.wq.weight', (H * hd, dim)),
                 ('attention.wk.weight', (KV * hd, dim)), ('attention.wv.weight', (KV * hd, dim)),
                 ('attention.wo.weight', (dim, H * hd)), ('ffn_norm.weight', (dim,)),
                 ('feed_forward.w1.weight', (hidden, dim)), ('feed_forward.w2.weight', (dim, hidden)),
                 ('feed_forward.w3.weight', (hidden, dim))]
    for name, shape in per_layer:  # run.c: each kind stored for all layers together
        a = take(L, *shape)
        for l in range(L):
            W['layers.%d.%s' % (l, name)] = a[l]
    W['norm.weight'] = take(dim)
    take(S, hd // 2)  # freq_cis_real (unused: run.c computes RoPE itself)
    take(S, hd // 2)  # freq_cis_imag
    if not shared:
        W['output.weight'] = take(V, dim)
    assert off == data.size, (path, off, data.size)
    cfg = dict(dim=dim, hidden_dim=hidden, n_layers=L, n_heads=H, n_kv_heads=KV, vocab_size=V,
               seq_len=S, shared_classifier=shared)
    return cfg, W


LLAMA2XS_README = """
# llama2xs: the trained llama2.c model `llama2xs-tinystories` (real weights, tied output)

Reference outputs for the real trained model in `../shared/models/{model}/model.safetensors`
(read that folder's README.md for its provenance). The weights are **not** copied here: load
them from `$KILN_SHARED/models/{model}/model.safetensors` (`model.xml` points at
`../../../../shared/models/{model}/model.safetensors`).

## Architecture

| | |
| --- | --- |
| vocab_size | 512 (llama2.c `tok512.bin`, shared with stories260K; BOS = 1, EOS = 2) |
| dim | 64 |
| n_layers | 5 |
| n_heads | 8, head_dim 8 |
| n_kv_heads | 4 (grouped-query attention: kv head j serves query heads 2j and 2j+1) |
| FFN | SwiGLU, hidden 192: `w2(silu(w1 x) * w3 x)`, silu(z) = z·sigmoid(z) |
| norms | RMSNorm eps 1e-5, weight only, pre-norm (`attention_norm`, `ffn_norm`), final `norm` |
| RoPE | theta 10000, interleaved pairs (x[2m], x[2m+1]) (llama2.c / Meta), q and k of every head, positions 0..T-1 |
| output | **tied**: logits = RMSNorm(x; norm) @ tok_embeddings.weightᵀ (no `output.weight` in the file), no bias |
| attention | causal, scaled by 1/√8 |
| max_seq_len | 256 |

Weight layout: torch `nn.Linear`, **[out, in]**, `y = x @ Wᵀ`, no biases anywhere. Names (llama2.c
`model.py`): `tok_embeddings.weight` [512,64], `layers.N.attention.{{wq [64,64], wk [32,64], wv [32,64],
wo [64,64]}}.weight`, `layers.N.feed_forward.{{w1 [192,64], w2 [64,192], w3 [192,64]}}.weight`,
`layers.N.attention_norm.weight` [64], `layers.N.ffn_norm.weight` [64], `norm.weight` [64] (N = 0..4);
47 tensors. `wq` rows h·8..h·8+7 belong to query head h; `wk`/`wv` rows j·8..j·8+7 to kv head j.

## Forward pass (formulas)

```
x[i] = tok_embeddings[t[i]]                                   # (T, 64)
for N in 0..4:
  a      = RMSNorm(x; attention_norm)                         # x / sqrt(mean(x²) + 1e-5) · w
  q      = a @ wqᵀ  (T, 8, 8);  k = a @ wkᵀ (T, 4, 8);  v = a @ wvᵀ (T, 4, 8)
  q, k   = RoPE(q, pos), RoPE(k, pos)
  s_h[i,j] = q_h[i]·k_{{h/2}}[j] / sqrt(8) for j <= i, -inf for j > i;  p_h = softmax_j(s_h)
  y_h[i] = Σ_j p_h[i,j] v_{{h/2}}[j];  y = concat_h y_h      # (T, 64), head h at columns h·8..h·8+7
  x      = x + y @ woᵀ
  b      = RMSNorm(x; ffn_norm)
  x      = x + (silu(b @ w1ᵀ) * (b @ w3ᵀ)) @ w2ᵀ
logits = RMSNorm(x; norm) @ tok_embeddingsᵀ                   # (T, 512), tied head
```

RoPE, with head_dim d = 8, θ_m = 10000^(-2m/d) for m = 0..3, at position p (0-based):

{rope_formula}

## Reference implementation

llama2.c's `model.py` (github.com/karpathy/llama2.c; `precompute_freqs_cis` / `apply_rotary_emb`
with `torch.view_as_complex`, `RMSNorm`, `Attention` with `repeat_kv`, `FeedForward`,
`TransformerBlock`, `Transformer`) with `.float()` replaced by `.double()`, the weight tying of
model.py (`tok_embeddings.weight = output.weight`), the state dict of `model.safetensors` loaded
into it; logits of all positions are produced. The same classes as `../llama-interleaved/`, with
dim 64, 5 layers, 8/4 heads, hidden 192, vocab 512, max_seq_len 256.

## Tensors

Inputs (`inputs.safetensors`): BOS (1) followed by the llama2.c encoding of the prompt

    {prompt!r}

with `shared/models/stories260K/tok512.bin` (the vocabulary this model was trained with). The ids
come from a re-implementation of llama2.c `run.c`'s `encode()` (dummy prefix space, one token per
character with byte fallback, then repeated merging of the adjacent pair whose concatenation has the
highest vocabulary score); a greedy longest-match segmentation of `' ' + prompt` gives the same ids
(checked). {ntok} tokens:

{pieces}

{itable}

{ids}

Expected (`expected.safetensors`):

{etable}

{stats}

Plausibility (the model is trained, so it should predict this text well; uniform guessing would give
ln 512 = 6.238 nats): {plaus}

Debug (`debug.safetensors`): `embed` = tok_embeddings[t] (1, T, 64), `layers.N` = residual stream
after layer N (1, T, 64), `norm` = after the final RMSNorm (1, T, 64).

## Cross-checks

{cross}
{common}
"""


def case_llama2xs(rep):
    mdir = os.path.join(SHARED, 'models', LLAMA2XS_MODEL)
    W = load_safetensors(os.path.join(mdir, 'model.safetensors'))
    assert 'output.weight' not in W and len(W) == 47, sorted(W)

    a = ModelArgs()
    a.dim, a.n_layers, a.n_heads, a.n_kv_heads = 64, 5, 8, 4
    a.vocab_size, a.hidden_dim, a.norm_eps, a.max_seq_len, a.rope_theta = 512, 192, 1e-5, 256, 10000.0

    # the independent copy of the weights in run.c's format must be the same numbers
    cfg, Wbin = read_llama2c_bin(os.path.join(mdir, 'model.bin'))
    assert cfg == dict(dim=64, hidden_dim=192, n_layers=5, n_heads=8, n_kv_heads=4, vocab_size=512,
                       seq_len=256, shared_classifier=True), cfg
    assert sorted(Wbin) == sorted(W) and all(np.array_equal(Wbin[k], W[k]) for k in W)
    rep.lines.append("model.bin (llama2.c legacy format, read with a separate reader) holds exactly the "
                     "same float32 values as model.safetensors (all 47 tensors bit-identical); header "
                     "dim 64, hidden 192, 5 layers, 8 heads, 4 kv heads, vocab +512 (shared classifier), "
                     "seq_len 256")
    print("  [llama2xs] " + rep.lines[-1])

    # tokens: BOS + run.c encode() of the prompt with tok512.bin
    max_len, vocab, scores = read_tok512(os.path.join(SHARED, 'models', 'stories260K', 'tok512.bin'))
    ids = llama2c_encode(LLAMA2XS_PROMPT, vocab, scores)
    assert ids == greedy_encode(LLAMA2XS_PROMPT, vocab, max_len)
    assert b''.join(vocab[i] for i in ids) == (' ' + LLAMA2XS_PROMPT).encode('utf-8')
    tokens = np.array([[1] + ids], dtype=np.int32)
    T = tokens.shape[1]
    inputs = [('tokens', tokens)]

    # reference: llama2.c model.py, tied head
    model = LlamaTransformer(a)
    model.tok_embeddings.weight = model.output.weight  # model.py: weight tying
    missing, unexpected = model.load_state_dict({k: t64(v) for k, v in W.items()}, strict=False)
    assert not unexpected and sorted(missing) == sorted(['output.weight'] +
                                                        ['layers.%d.attention.mask' % l for l in range(5)])
    assert torch.equal(model.output.weight, t64(W['tok_embeddings.weight']))
    model.eval()
    got, remove = hooks([('layers.%d' % i, b) for i, b in enumerate(model.layers)] + [('norm', model.norm)])
    with torch.no_grad():
        logits = model(t64(tokens))
    remove()
    debug = [('embed', t64(W['tok_embeddings.weight'])[t64(tokens)])] + \
            [(k, got[k]) for k in ['layers.%d' % i for i in range(5)] + ['norm']]

    # cross-checks
    Wt = dict(Wbin)
    Wt['output.weight'] = Wbin['tok_embeddings.weight']  # run.c: wcls = token_embedding_table when shared
    with torch.no_grad():
        runc = llama_runc(Wt, tokens, a)
        m_p = LlamaForCausalLMHF(a)
        m_p.load_llama2c_names(Wt, permute_qk=hf_permute)
        m_p.eval()
        logits_p = m_p(t64(tokens))
        logits_5 = model(t64(tokens[:, :5]))
    rep.check("llama2.c model.py (view_as_complex, tied head) vs run.c-style per-position/per-head loop "
              "with real cos/sin on the weights of model.bin, wcls = token embedding table (logits)",
              logits, runc)
    rep.check("llama2.c model.py vs Hugging Face rotate_half model with wq/wk rows permuted as "
              "convert_llama_weights_to_hf.py does, lm_head = tok_embeddings (logits)", logits, logits_p)
    rep.check("causality: logits for the first 5 tokens alone vs the first 5 rows of the full run",
              logits[:, :5], logits_5)

    # plausibility: average next-token loss of the trained model on this text
    lp = torch.log_softmax(logits[0], dim=-1)
    nll = -lp[torch.arange(T - 1), t64(tokens[0, 1:])]
    loss = nll.mean().item()
    top1 = (logits[0, :-1].argmax(-1) == t64(tokens[0, 1:])).sum().item()
    nxt = int(logits[0, -1].argmax().item())
    plaus = ("average next-token loss over the %d predicted positions (predicting tokens[1..%d] from the "
             "prefixes) = **%.3f nats/token** (perplexity %.2f; worst position %.3f at token %d %r); "
             "the top-1 prediction equals the next token at %d of %d positions; after the whole prompt "
             "the model's most likely next token is %d %r."
             % (T - 1, T - 1, loss, math.exp(loss), nll.max().item(), int(nll.argmax().item()) + 1,
                vocab[int(tokens[0, int(nll.argmax().item()) + 1])].decode('utf-8', 'replace'),
                top1, T - 1, nxt, vocab[nxt].decode('utf-8', 'replace')))
    print("  [llama2xs] plausibility: " + plaus)
    if not loss < math.log(512):
        rep.failed = True
        print("  [llama2xs] loss is not below ln 512: weights or tokens wrong?")

    pieces = "    " + " ".join("%d:%s" % (i, json.dumps(vocab[i].decode('utf-8', 'replace')))
                               for i in tokens[0].tolist())
    expected = [('logits', logits)]
    readme = LLAMA2XS_README.format(
        model=LLAMA2XS_MODEL, rope_formula=ROPE_INTERLEAVED, prompt=LLAMA2XS_PROMPT, ntok=T,
        pieces=pieces, itable=tensor_table(inputs), ids=ids_text(inputs), etable=tensor_table(expected),
        stats=stats_text(expected), plaus=plaus, cross=rep.text(),
        common=COMMON_README.format(files=files_rows(False), case='llama2xs',
                                    wsrc=" (from ../shared/models/%s/model.safetensors)" % LLAMA2XS_MODEL))
    write_case('llama2xs', None, inputs, expected, debug, readme)


# ----------------------------------------------------------------------------------------------
# BERT-like encoder: HF BertEmbeddings-style embeddings + torch.nn.TransformerEncoderLayer
# ----------------------------------------------------------------------------------------------

class BertRef(nn.Module):
    def __init__(self, vocab=50, d=32, heads=4, ff=64, layers=2, max_pos=16, types=2, eps=1e-12):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, d)
        self.position_embeddings = nn.Embedding(max_pos, d)
        self.token_type_embeddings = nn.Embedding(types, d)
        self.LayerNorm = nn.LayerNorm(d, eps=eps)
        self.layers = nn.ModuleList([
            nn.TransformerEncoderLayer(d_model=d, nhead=heads, dim_feedforward=ff, dropout=0.0,
                                       activation='gelu', batch_first=True, norm_first=False,
                                       layer_norm_eps=eps)
            for _ in range(layers)])
        self.pooler = nn.Linear(d, d)

    def forward(self, tokens, token_types, valid):
        B, T = tokens.shape
        position_ids = torch.arange(T)[None, :]
        embeddings = self.word_embeddings(tokens) + self.token_type_embeddings(token_types)
        embeddings = embeddings + self.position_embeddings(position_ids)
        x = self.LayerNorm(embeddings)
        pad = valid == 0  # True = key excluded
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return x, pooled

    def load_hf(self, W):
        w = {k: t64(v) for k, v in W.items()}
        with torch.no_grad():
            self.word_embeddings.weight.copy_(w['embeddings.word_embeddings.weight'])
            self.position_embeddings.weight.copy_(w['embeddings.position_embeddings.weight'])
            self.token_type_embeddings.weight.copy_(w['embeddings.token_type_embeddings.weight'])
            self.LayerNorm.weight.copy_(w['embeddings.LayerNorm.weight'])
            self.LayerNorm.bias.copy_(w['embeddings.LayerNorm.bias'])
            for n, L in enumerate(self.layers):
                p = 'encoder.layer.%d.' % n
                s = p + 'attention.self.'
                L.self_attn.in_proj_weight.copy_(torch.cat([w[s + 'query.weight'], w[s + 'key.weight'],
                                                            w[s + 'value.weight']], 0))
                L.self_attn.in_proj_bias.copy_(torch.cat([w[s + 'query.bias'], w[s + 'key.bias'],
                                                          w[s + 'value.bias']], 0))
                L.self_attn.out_proj.weight.copy_(w[p + 'attention.output.dense.weight'])
                L.self_attn.out_proj.bias.copy_(w[p + 'attention.output.dense.bias'])
                L.norm1.weight.copy_(w[p + 'attention.output.LayerNorm.weight'])
                L.norm1.bias.copy_(w[p + 'attention.output.LayerNorm.bias'])
                L.linear1.weight.copy_(w[p + 'intermediate.dense.weight'])
                L.linear1.bias.copy_(w[p + 'intermediate.dense.bias'])
                L.linear2.weight.copy_(w[p + 'output.dense.weight'])
                L.linear2.bias.copy_(w[p + 'output.dense.bias'])
                L.norm2.weight.copy_(w[p + 'output.LayerNorm.weight'])
                L.norm2.bias.copy_(w[p + 'output.LayerNorm.bias'])
            self.pooler.weight.copy_(w['pooler.dense.weight'])
            self.pooler.bias.copy_(w['pooler.dense.bias'])


def bert_manual(W, tokens, token_types, valid, heads=4, eps=1e-12):
    """Second computation in the style of HF modeling_bert.py (BertEmbeddings, BertSelfAttention with
    transpose_for_scores and the additive extended attention mask (1 - mask) * finfo.min,
    BertSelfOutput, BertIntermediate, BertOutput, BertPooler), directly on the HF-named tensors."""
    w = {k: t64(v) for k, v in W.items()}
    tokens, token_types, valid = t64(tokens), t64(token_types), t64(valid)
    B, T = tokens.shape
    d = w['embeddings.word_embeddings.weight'].shape[1]
    hd = d // heads

    def linear(x, name):
        return x @ w[name + '.weight'].t() + w[name + '.bias']

    def layernorm(x, name):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * w[name + '.weight'] + w[name + '.bias']

    def transpose_for_scores(x):
        return x.view(B, T, heads, hd).permute(0, 2, 1, 3)

    x = (w['embeddings.word_embeddings.weight'][tokens] + w['embeddings.token_type_embeddings.weight'][token_types]
         + w['embeddings.position_embeddings.weight'][torch.arange(T)][None])
    x = layernorm(x, 'embeddings.LayerNorm')
    ext = (1.0 - valid.double())[:, None, None, :] * torch.finfo(torch.float64).min
    n_layers = len({k.split('.')[2] for k in W if k.startswith('encoder.layer.')})
    for n in range(n_layers):
        p = 'encoder.layer.%d.' % n
        q = transpose_for_scores(linear(x, p + 'attention.self.query'))
        k = transpose_for_scores(linear(x, p + 'attention.self.key'))
        v = transpose_for_scores(linear(x, p + 'attention.self.value'))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + ext
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ v).permute(0, 2, 1, 3).reshape(B, T, d)
        attn = layernorm(linear(ctx, p + 'attention.output.dense') + x, p + 'attention.output.LayerNorm')
        inter = linear(attn, p + 'intermediate.dense')
        inter = 0.5 * inter * (1.0 + torch.erf(inter / math.sqrt(2.0)))
        x = layernorm(linear(inter, p + 'output.dense') + attn, p + 'output.LayerNorm')
    pooled = torch.tanh(linear(x[:, 0], 'pooler.dense'))
    return x, pooled


BERT_README = """
# bert: BERT-style encoder (post-LN, GELU erf), batch of two with padding, random weights

## Architecture

| | |
| --- | --- |
| vocab_size | 50 (id 0 is used as the padding id) |
| hidden (d) | 32 |
| layers | 2 |
| heads | 4, head_dim 8 |
| intermediate | 64, GELU exact: gelu(z) = 0.5·z·(1 + erf(z/√2)) |
| max positions | 16 (learned) |
| token types | 2 (learned) |
| LayerNorm | eps 1e-12, post-LN as in BERT |
| attention mask | keys at padded positions (valid = 0) are excluded; padded query rows are computed normally |
| pooler | pooled = tanh(pooler.dense(hidden[:, 0])) |

Weight layout: Hugging Face BERT names, torch `nn.Linear` **[out, in]**, `y = x @ Wᵀ + b`.

## Forward pass (formulas)

For each sequence b (T = 7, positions 0..6 for every row, padded or not):

```
e[i]  = word_embeddings[t[i]] + token_type_embeddings[tt[i]] + position_embeddings[i]
x     = LN(e; embeddings.LayerNorm)                  # LN(x) = (x-μ)/sqrt(σ²+1e-12)·w + b over d (biased variance)
for each layer N (prefix encoder.layer.N.):
  q = x @ attention.self.query.weightᵀ + .bias      # (T, 32) = (T, 4 heads, 8)
  k = x @ attention.self.key.weightᵀ + .bias
  v = x @ attention.self.value.weightᵀ + .bias
  s_h[i,j] = q_h[i]·k_h[j] / sqrt(8), and -inf where valid[j] = 0;  p_h = softmax_j(s_h)
  c     = concat_h Σ_j p_h[i,j] v_h[j]               # head h at columns h·8..h·8+7
  a     = LN(x + c @ attention.output.dense.weightᵀ + .bias; attention.output.LayerNorm)
  m     = gelu(a @ intermediate.dense.weightᵀ + .bias)             # (T, 64)
  x     = LN(a + m @ output.dense.weightᵀ + .bias; output.LayerNorm)
hidden = x                                           # (T, 32), all rows including padded ones
pooled = tanh(hidden[0] @ pooler.dense.weightᵀ + pooler.dense.bias)
```

Mapping to `torch.nn.TransformerEncoderLayer` (used as the reference): `self_attn.in_proj_weight` =
cat(query.weight, key.weight, value.weight) along dim 0 ([96, 32]), `in_proj_bias` likewise;
`self_attn.out_proj` = `attention.output.dense`; `norm1` = `attention.output.LayerNorm`; `linear1` =
`intermediate.dense`; `linear2` = `output.dense`; `norm2` = `output.LayerNorm`. (The weights were drawn
under the HF names and packed into the torch modules; the split is the same in either direction.)

## Reference implementation

Embeddings as Hugging Face `BertEmbeddings` (word + token_type + position, LayerNorm; nn.Embedding /
nn.LayerNorm modules), then for each layer `torch.nn.TransformerEncoderLayer(d_model=32, nhead=4,
dim_feedforward=64, dropout=0, activation='gelu', batch_first=True, norm_first=False,
layer_norm_eps=1e-12)` called with `src_key_padding_mask = (valid == 0)` (run in eval mode with
autograd enabled, which selects its plain Python path; its fused C++ "fast path"
`torch._transformer_encoder_layer_fwd`, taken under `no_grad`, is compared below), then
`torch.tanh(nn.Linear(32, 32)(x[:, 0]))` as the pooler.

## Tensors

Weights (`weights.safetensors`; random: numpy RandomState({seed}); word embeddings std 0.3, position and
token-type 0.2, query/key/value/attention.output/intermediate/pooler weights 0.2, output.dense weight
0.15, biases 0.1, LayerNorm weights 1 + 0.1·N(0,1), biases 0.1·N(0,1)):

{wtable}

Inputs (`inputs.safetensors`): sequence 0 has length 7, sequence 1 length 4 padded with id 0 to 7;
real ids are uniform in [1, 50).

{itable}

{ids}

Expected (`expected.safetensors`):

{etable}

{stats}

Debug (`debug.safetensors`): `embeddings` = after the embedding LayerNorm (2, 7, 32), `layer.N` =
output of encoder layer N (2, 7, 32).

## Cross-checks

{cross}
{common}
"""


def case_bert(rep):
    seed = 5
    init = Init(seed)
    d, ff, V = 32, 64, 50
    W = {}
    W['embeddings.word_embeddings.weight'] = init.normal([V, d], 0.3)
    W['embeddings.position_embeddings.weight'] = init.normal([16, d], 0.2)
    W['embeddings.token_type_embeddings.weight'] = init.normal([2, d], 0.2)
    W['embeddings.LayerNorm.weight'] = init.ln_weight(d)
    W['embeddings.LayerNorm.bias'] = init.ln_bias(d)
    for n in range(2):
        p = 'encoder.layer.%d.' % n
        for part in ['query', 'key', 'value']:
            W[p + 'attention.self.%s.weight' % part] = init.normal([d, d], 0.2)
            W[p + 'attention.self.%s.bias' % part] = init.normal([d], 0.1)
        W[p + 'attention.output.dense.weight'] = init.normal([d, d], 0.2)
        W[p + 'attention.output.dense.bias'] = init.normal([d], 0.1)
        W[p + 'attention.output.LayerNorm.weight'] = init.ln_weight(d)
        W[p + 'attention.output.LayerNorm.bias'] = init.ln_bias(d)
        W[p + 'intermediate.dense.weight'] = init.normal([ff, d], 0.2)
        W[p + 'intermediate.dense.bias'] = init.normal([ff], 0.1)
        W[p + 'output.dense.weight'] = init.normal([d, ff], 0.15)
        W[p + 'output.dense.bias'] = init.normal([d], 0.1)
        W[p + 'output.LayerNorm.weight'] = init.ln_weight(d)
        W[p + 'output.LayerNorm.bias'] = init.ln_bias(d)
    W['pooler.dense.weight'] = init.normal([d, d], 0.2)
    W['pooler.dense.bias'] = init.normal([d], 0.1)

    T, lens = 7, [7, 4]
    tokens = np.zeros([2, T], dtype=np.int32)
    valid = np.zeros([2, T], dtype=np.int32)
    for b, n in enumerate(lens):
        tokens[b, :n] = init.ids([n], 1, V)
        valid[b, :n] = 1
    token_types = np.zeros([2, T], dtype=np.int32)
    token_types[0, 4:] = 1

    model = BertRef()
    model.load_hf(W)
    model.eval()
    got, remove = hooks([('embeddings', model.LayerNorm)] + [('layer.%d' % i, L) for i, L in enumerate(model.layers)])
    with torch.enable_grad():  # keeps TransformerEncoderLayer off its fused fast path
        hidden, pooled = model(t64(tokens), t64(token_types), t64(valid))
    remove()
    hidden, pooled = hidden.detach(), pooled.detach()
    debug = [(k, got[k]) for k in ['embeddings', 'layer.0', 'layer.1']]

    mh, mp = bert_manual(W, tokens, token_types, valid)
    rep.check("nn.TransformerEncoderLayer stack vs HF-BERT-style manual code on the HF-named tensors "
              "(hidden, all rows)", hidden, mh)
    rep.check("same (pooled)", pooled, mp)
    fast = []
    fwd = torch._transformer_encoder_layer_fwd

    def spy(*a, **k):
        fast.append(1)
        return fwd(*a, **k)
    torch._transformer_encoder_layer_fwd = spy
    try:
        with torch.no_grad():
            hf, pf = model(t64(tokens), t64(token_types), t64(valid))
    finally:
        torch._transformer_encoder_layer_fwd = fwd
    assert len(fast) == 2, "the fused fast path was expected under no_grad"
    rep.check("TransformerEncoderLayer's Python path vs its fused C++ fast path "
              "(torch._transformer_encoder_layer_fwd, eval + no_grad) (hidden, all rows)", hidden, hf)
    # padding really is masked: changing the ids at padded positions must not change real rows
    tokens2 = tokens.copy()
    tokens2[1, 4:] = [7, 8, 9]
    with torch.enable_grad():
        h2, p2 = model(t64(tokens2), t64(token_types), t64(valid))
    rep.check("padding is masked: hidden[1, :4] with the padded ids changed from 0 to 7,8,9", hidden[1, :4],
              h2.detach()[1, :4])
    # sequence 1 alone, unpadded, gives the same real rows
    with torch.enable_grad():
        h3, p3 = model(t64(tokens[1:, :4]), t64(token_types[1:, :4]), t64(valid[1:, :4]))
    rep.check("sequence 1 run alone with length 4 (no padding) vs its rows 0..3 in the padded batch",
              hidden[1, :4], h3.detach()[0])

    inputs = [('tokens', tokens), ('token_types', token_types), ('valid', valid)]
    expected = [('hidden', hidden), ('pooled', pooled)]
    readme = BERT_README.format(
        seed=seed, wtable=tensor_table(list(W.items())), itable=tensor_table(inputs), ids=ids_text(inputs),
        etable=tensor_table(expected), stats=stats_text(expected), cross=rep.text(),
        common=COMMON_README.format(files=files_rows(True), case='bert', wsrc=""))
    write_case('bert', W, inputs, expected, debug, readme)


# ----------------------------------------------------------------------------------------------
# Encoder-decoder (Vaswani et al. 2017): torch.nn.TransformerEncoderLayer + TransformerDecoderLayer
# ----------------------------------------------------------------------------------------------

def sinusoid(T, d):
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)) (The Annotated
    Transformer's PositionalEncoding)."""
    pe = torch.zeros(T, d)
    position = torch.arange(0, T).unsqueeze(1).double()
    div_term = torch.exp(torch.arange(0, d, 2).double() * -(math.log(10000.0) / d))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe


class EncDecRef(nn.Module):
    def __init__(self, vocab=40, d=32, heads=4, ff=64, eps=1e-5):
        super().__init__()
        self.d = d
        self.embed = nn.Embedding(vocab, d)
        kw = dict(d_model=d, nhead=heads, dim_feedforward=ff, dropout=0.0, activation='relu',
                  batch_first=True, norm_first=False, layer_norm_eps=eps)
        self.enc = nn.TransformerEncoderLayer(**kw)
        self.dec = nn.TransformerDecoderLayer(**kw)

    def forward(self, src, src_valid, tgt):
        S, T = src.shape[1], tgt.shape[1]
        pad = src_valid == 0
        xs = self.embed(src) * math.sqrt(self.d) + sinusoid(S, self.d)
        memory = self.enc(xs, src_key_padding_mask=pad)
        xt = self.embed(tgt) * math.sqrt(self.d) + sinusoid(T, self.d)
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True = not allowed
        y = self.dec(xt, memory, tgt_mask=causal, memory_key_padding_mask=pad)
        return F.linear(y, self.embed.weight), xs, memory, xt, y

    def load_names(self, W):
        w = {k: t64(v) for k, v in W.items()}

        def mha(m, p):
            m.in_proj_weight.copy_(torch.cat([w[p + 'q.weight'], w[p + 'k.weight'], w[p + 'v.weight']], 0))
            m.in_proj_bias.copy_(torch.cat([w[p + 'q.bias'], w[p + 'k.bias'], w[p + 'v.bias']], 0))
            m.out_proj.weight.copy_(w[p + 'o.weight'])
            m.out_proj.bias.copy_(w[p + 'o.bias'])

        def lin(m, p):
            m.weight.copy_(w[p + '.weight'])
            m.bias.copy_(w[p + '.bias'])

        with torch.no_grad():
            self.embed.weight.copy_(w['embed.weight'])
            mha(self.enc.self_attn, 'enc.self_attn.')
            lin(self.enc.norm1, 'enc.ln1')
            lin(self.enc.linear1, 'enc.ffn.w1')
            lin(self.enc.linear2, 'enc.ffn.w2')
            lin(self.enc.norm2, 'enc.ln2')
            mha(self.dec.self_attn, 'dec.self_attn.')
            lin(self.dec.norm1, 'dec.ln1')
            mha(self.dec.multihead_attn, 'dec.cross_attn.')
            lin(self.dec.norm2, 'dec.ln2')
            lin(self.dec.linear1, 'dec.ffn.w1')
            lin(self.dec.linear2, 'dec.ffn.w2')
            lin(self.dec.norm3, 'dec.ln3')


def encdec_manual(W, src, src_valid, tgt, heads=4, eps=1e-5):
    """Second computation: per-sequence, per-head loops with explicit masks, on the saved names."""
    w = {k: t64(v) for k, v in W.items()}
    E = w['embed.weight']
    d = E.shape[1]
    hd = d // heads

    def lin(x, p):
        return x @ w[p + '.weight'].t() + w[p + '.bias']

    def ln(x, p):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * w[p + '.weight'] + w[p + '.bias']

    def attention(xq, xkv, p, allowed):  # allowed[i][j] bool
        q, k, v = lin(xq, p + 'q'), lin(xkv, p + 'k'), lin(xkv, p + 'v')
        out = torch.zeros(xq.shape[0], d)
        for h in range(heads):
            s = slice(h * hd, (h + 1) * hd)
            for i in range(xq.shape[0]):
                js = [j for j in range(xkv.shape[0]) if allowed(i, j)]
                sc = torch.stack([(q[i, s] * k[j, s]).sum() / math.sqrt(hd) for j in js])
                pr = torch.exp(sc - sc.max())
                pr = pr / pr.sum()
                out[i, s] = sum(pr[n] * v[j, s] for n, j in enumerate(js))
        return lin(out, p + 'o')

    def pe(T):
        P = torch.zeros(T, d)
        for pos in range(T):
            for i in range(0, d, 2):
                ang = pos / (10000.0 ** (i / d))
                P[pos, i] = math.sin(ang)
                P[pos, i + 1] = math.cos(ang)
        return P

    outs = []
    for b in range(src.shape[0]):
        S, T = src.shape[1], tgt.shape[1]
        val = [bool(src_valid[b, j]) for j in range(S)]
        xs = E[t64(src[b])] * math.sqrt(d) + pe(S)
        xs = ln(xs + attention(xs, xs, 'enc.self_attn.', lambda i, j: val[j]), 'enc.ln1')
        mem = ln(xs + lin(torch.relu(lin(xs, 'enc.ffn.w1')), 'enc.ffn.w2'), 'enc.ln2')
        y = E[t64(tgt[b])] * math.sqrt(d) + pe(T)
        y = ln(y + attention(y, y, 'dec.self_attn.', lambda i, j: j <= i), 'dec.ln1')
        y = ln(y + attention(y, mem, 'dec.cross_attn.', lambda i, j: val[j]), 'dec.ln2')
        y = ln(y + lin(torch.relu(lin(y, 'dec.ffn.w1')), 'dec.ffn.w2'), 'dec.ln3')
        outs.append(y @ E.t())
    return torch.stack(outs)


ENCDEC_README = """
# encdec: original Transformer encoder-decoder (1 + 1 layers, post-LN, ReLU), random weights

## Architecture

| | |
| --- | --- |
| vocab | 40, shared by source and target (id 0 is used as the padding id) |
| d_model | 32 |
| heads | 4, head_dim 8 |
| FFN | 32 → 64 → 32, ReLU |
| layers | 1 encoder layer, 1 decoder layer |
| LayerNorm | eps 1e-5, post-LN (after each residual add) |
| embeddings | one matrix `embed.weight` [40, 32] for source and target, multiplied by √32; plus sinusoidal positions |
| output | logits = y @ embed.weightᵀ (tied, no bias) |
| final norm | **none**: there is no extra encoder/decoder LayerNorm beyond the layers' own `ln*` (unlike `nn.Transformer`, which adds one to each stack) |

Positions (not stored; computed): PE(pos, 2i) = sin(pos / 10000^(2i/32)), PE(pos, 2i+1) =
cos(pos / 10000^(2i/32)) (interleaved sin/cos), pos = 0-based, for source and target separately.

Weight layout: torch `nn.Linear`, **[out, in]**, `y = x @ Wᵀ + b`. Attention projections `q`, `k`,
`v`, `o` are [32, 32] each (nn.MultiheadAttention's `in_proj_weight` [96, 32] split into three row
blocks: q rows 0..31, k 32..63, v 64..95; `o` = `out_proj`); head h uses rows h·8..h·8+7 of q, k, v.

## Forward pass (formulas)

```
MHA(xq, xkv; p, allowed):  q = xq @ p.q.weightᵀ + p.q.bias,  k, v likewise from xkv
   s_h[i,j] = q_h[i]·k_h[j]/sqrt(8) where allowed(i, j), -inf elsewhere;  p_h = softmax_j(s_h)
   return concat_h(Σ_j p_h[i,j] v_h[j]) @ p.o.weightᵀ + p.o.bias
LN(x; p) = (x-μ)/sqrt(σ²+1e-5)·p.weight + p.bias     (over the 32 features, biased variance)

encoder (per sequence, S = 6 positions):
  xs  = embed[src]·√32 + PE[0..S-1]
  xs  = LN(xs + MHA(xs, xs; enc.self_attn, allowed = src_valid[j] == 1); enc.ln1)
  mem = LN(xs + (relu(xs @ enc.ffn.w1.weightᵀ + b1) @ enc.ffn.w2.weightᵀ + b2); enc.ln2)
decoder (T = 5 positions):
  y   = embed[tgt]·√32 + PE[0..T-1]
  y   = LN(y + MHA(y, y; dec.self_attn, allowed = j <= i); dec.ln1)                 # causal
  y   = LN(y + MHA(y, mem; dec.cross_attn, allowed = src_valid[j] == 1); dec.ln2)   # padded memory keys excluded
  y   = LN(y + (relu(y @ dec.ffn.w1.weightᵀ + b1) @ dec.ffn.w2.weightᵀ + b2); dec.ln3)
logits = y @ embed.weightᵀ                                                          # (T, 40)
```

Encoder rows at padded source positions are computed (and appear in `debug.safetensors`) but, being
masked as keys, never influence the output.

## Reference implementation

`torch.nn.TransformerEncoderLayer` and `torch.nn.TransformerDecoderLayer` (d_model=32, nhead=4,
dim_feedforward=64, dropout=0, activation='relu', batch_first=True, norm_first=False,
layer_norm_eps=1e-5); the encoder layer called with `src_key_padding_mask = (src_valid == 0)`, the
decoder layer with `tgt_mask` = boolean upper triangle (True above the diagonal = not allowed) and
`memory_key_padding_mask = (src_valid == 0)`; embedding and PE as in The Annotated Transformer
(`Embeddings`: lut(x)·√d_model; `PositionalEncoding` with `div_term = exp(arange(0, d, 2)·−ln(10000)/d)`);
the output projection `F.linear(y, embed.weight)`. Run in eval mode with autograd enabled (no fused fast
path). Names: encoder `self_attn` → `enc.self_attn.{{q,k,v,o}}`, `norm1` → `enc.ln1`, `linear1`/`linear2` →
`enc.ffn.w1`/`w2`, `norm2` → `enc.ln2`; decoder `self_attn` → `dec.self_attn`, `norm1` → `dec.ln1`,
`multihead_attn` → `dec.cross_attn`, `norm2` → `dec.ln2`, `linear1`/`linear2` → `dec.ffn.w1`/`w2`,
`norm3` → `dec.ln3`.

## Tensors

Weights (`weights.safetensors`; random: numpy RandomState({seed}); embed std 0.3, attention/w1 weights
0.2, w2 weights 0.15, biases 0.1, LayerNorm weights 1 + 0.1·N(0,1), biases 0.1·N(0,1)):

{wtable}

Inputs (`inputs.safetensors`): source 0 has length 6, source 1 length 4 padded with id 0 to 6;
targets have length 5 (no padding), start with id 1 (playing BOS; it has no special meaning here);
other ids uniform in [1, 40).

{itable}

{ids}

Expected (`expected.safetensors`):

{etable}

{stats}

Debug (`debug.safetensors`): `src_embed` (2, 6, 32) = embed[src]·√32 + PE, `memory` (2, 6, 32) =
encoder layer output, `tgt_embed` (2, 5, 32), `dec_out` (2, 5, 32) = decoder layer output before the
projection.

## Cross-checks

{cross}
{common}
"""


def case_encdec(rep):
    seed = 6
    init = Init(seed)
    d, ff, V = 32, 64, 40
    W = {'embed.weight': init.normal([V, d], 0.3)}

    def mha(p):
        for n in 'qkvo':
            W[p + n + '.weight'] = init.normal([d, d], 0.2)
            W[p + n + '.bias'] = init.normal([d], 0.1)

    def ln(p):
        W[p + '.weight'] = init.ln_weight(d)
        W[p + '.bias'] = init.ln_bias(d)

    def ffn(p):
        W[p + 'w1.weight'] = init.normal([ff, d], 0.2)
        W[p + 'w1.bias'] = init.normal([ff], 0.1)
        W[p + 'w2.weight'] = init.normal([d, ff], 0.15)
        W[p + 'w2.bias'] = init.normal([d], 0.1)

    mha('enc.self_attn.')
    ln('enc.ln1')
    ffn('enc.ffn.')
    ln('enc.ln2')
    mha('dec.self_attn.')
    ln('dec.ln1')
    mha('dec.cross_attn.')
    ln('dec.ln2')
    ffn('dec.ffn.')
    ln('dec.ln3')

    S, T, lens = 6, 5, [6, 4]
    src = np.zeros([2, S], dtype=np.int32)
    src_valid = np.zeros([2, S], dtype=np.int32)
    for b, n in enumerate(lens):
        src[b, :n] = init.ids([n], 1, V)
        src_valid[b, :n] = 1
    tgt = init.ids([2, T], 1, V)
    tgt[:, 0] = 1

    model = EncDecRef()
    model.load_names(W)
    model.eval()
    with torch.enable_grad():
        logits, xs, memory, xt, y = (t.detach() for t in model(t64(src), t64(src_valid), t64(tgt)))
    debug = [('src_embed', xs), ('memory', memory), ('tgt_embed', xt), ('dec_out', y)]

    manual = encdec_manual(W, src, src_valid, tgt)
    rep.check("nn.TransformerEncoderLayer + nn.TransformerDecoderLayer vs per-head/per-query loops with "
              "explicit masks and a loop-built PE table (logits)", logits, manual)
    src2 = src.copy()
    src2[1, 4:] = [5, 6]
    with torch.enable_grad():
        l2 = model(t64(src2), t64(src_valid), t64(tgt))[0].detach()
    rep.check("padding is masked: logits[1] with the padded source ids changed from 0 to 5,6", logits[1], l2[1])
    with torch.enable_grad():
        l3 = model(t64(src[1:, :4]), t64(src_valid[1:, :4]), t64(tgt[1:]))[0].detach()
    rep.check("pair 1 run alone with an unpadded source of length 4 vs its logits in the padded batch",
              logits[1], l3[0])
    with torch.enable_grad():
        l4 = model(t64(src), t64(src_valid), t64(tgt[:, :3]))[0].detach()
    rep.check("causality: logits for a 3-token target prefix vs the first 3 rows of the full target",
              logits[:, :3], l4)

    inputs = [('src', src), ('src_valid', src_valid), ('tgt', tgt)]
    expected = [('logits', logits)]
    readme = ENCDEC_README.format(
        seed=seed, wtable=tensor_table(list(W.items())), itable=tensor_table(inputs), ids=ids_text(inputs),
        etable=tensor_table(expected), stats=stats_text(expected), cross=rep.text(),
        common=COMMON_README.format(files=files_rows(True), case='encdec', wsrc=""))
    write_case('encdec', W, inputs, expected, debug, readme)


# ----------------------------------------------------------------------------------------------
# GPT-1 (Radford et al. 2018): Hugging Face's modeling_openai.py (OpenAIGPTModel +
# OpenAIGPTLMHeadModel), itself a port of openai/finetune-transformer-lm's train.py. Post-LN
# blocks, no final LayerNorm, GELU tanh, HF Conv1D weights [in, out], tied output head.
# ----------------------------------------------------------------------------------------------

def gelu_new(x):
    """transformers.activations.gelu_new = finetune-transformer-lm's gelu (tanh approximation)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class HFConv1D(nn.Module):
    """transformers.pytorch_utils.Conv1D: a linear layer whose weight is stored [in, out] (nx, nf)."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        x = x.view(size_out)
        return x


class OpenAIGPTConfigLite:
    def __init__(self, vocab_size, n_positions, n_embd, n_layer, n_head):
        self.vocab_size = vocab_size
        self.n_positions = n_positions
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.n_head = n_head
        self.layer_norm_epsilon = 1e-5
        self.afn = "gelu"


class OpenAIAttention(nn.Module):
    def __init__(self, nx, n_positions, config, scale=False):
        super().__init__()
        n_state = nx  # in Attention: n_state=768 (nx=n_embd)
        assert n_state % config.n_head == 0
        self.register_buffer("bias", torch.tril(torch.ones(n_positions, n_positions)).view(1, 1, n_positions, n_positions))
        self.n_head = config.n_head
        self.split_size = n_state
        self.scale = scale
        self.c_attn = HFConv1D(n_state * 3, nx)
        self.c_proj = HFConv1D(n_state, nx)

    def _attn(self, q, k, v):
        w = torch.matmul(q, k)
        if self.scale:
            w = w / math.sqrt(v.size(-1))
        b = self.bias[:, :, : w.size(-2), : w.size(-1)]
        w = w * b + -1e4 * (1 - b)   # as HF (finetune-transformer-lm: -1e9); exp underflows to 0 either way
        w = F.softmax(w, dim=-1)
        return torch.matmul(w, v)

    def merge_heads(self, x):
        x = x.permute(0, 2, 1, 3).contiguous()
        new_x_shape = x.size()[:-2] + (x.size(-2) * x.size(-1),)
        return x.view(*new_x_shape)

    def split_heads(self, x, k=False):
        new_x_shape = x.size()[:-1] + (self.n_head, x.size(-1) // self.n_head)
        x = x.view(*new_x_shape)
        if k:
            return x.permute(0, 2, 3, 1)
        else:
            return x.permute(0, 2, 1, 3)

    def forward(self, x):
        x = self.c_attn(x)
        query, key, value = x.split(self.split_size, dim=2)
        query = self.split_heads(query)
        key = self.split_heads(key, k=True)
        value = self.split_heads(value)
        a = self._attn(query, key, value)
        a = self.merge_heads(a)
        a = self.c_proj(a)
        return a


class OpenAIMLP(nn.Module):
    def __init__(self, n_state, config):  # in MLP: n_state=3072 (4 * n_embd)
        super().__init__()
        nx = config.n_embd
        self.c_fc = HFConv1D(n_state, nx)
        self.c_proj = HFConv1D(nx, n_state)
        self.act = gelu_new  # ACT_FNS["gelu"] in modeling_openai.py

    def forward(self, x):
        h = self.act(self.c_fc(x))
        h2 = self.c_proj(h)
        return h2


class OpenAIBlock(nn.Module):
    def __init__(self, n_positions, config, scale=False):
        super().__init__()
        nx = config.n_embd
        self.attn = OpenAIAttention(nx, n_positions, config, scale)
        self.ln_1 = nn.LayerNorm(nx, eps=config.layer_norm_epsilon)
        self.mlp = OpenAIMLP(4 * nx, config)
        self.ln_2 = nn.LayerNorm(nx, eps=config.layer_norm_epsilon)

    def forward(self, x):
        a = self.attn(x)
        n = self.ln_1(x + a)
        m = self.mlp(n)
        h = self.ln_2(n + m)
        return h


class OpenAIGPTLMHead(nn.Module):
    """OpenAIGPTModel (tokens_embed, positions_embed, h) + OpenAIGPTLMHeadModel's tied lm_head."""

    def __init__(self, config):
        super().__init__()
        self.tokens_embed = nn.Embedding(config.vocab_size, config.n_embd)
        self.positions_embed = nn.Embedding(config.n_positions, config.n_embd)
        self.h = nn.ModuleList([OpenAIBlock(config.n_positions, config, scale=True) for _ in range(config.n_layer)])
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tokens_embed.weight  # tie_weights()
        self.register_buffer("position_ids", torch.arange(config.n_positions))

    def forward(self, input_ids):
        input_shape = input_ids.size()
        position_ids = self.position_ids[None, : input_shape[-1]]
        inputs_embeds = self.tokens_embed(input_ids)
        position_embeds = self.positions_embed(position_ids)
        hidden_states = inputs_embeds + position_embeds  # no token types
        for block in self.h:
            hidden_states = block(hidden_states)
        return self.lm_head(hidden_states)  # no final LayerNorm in GPT-1


def gpt1_weights(init, C, n_layer, n_pos, vocab):
    W = {'tokens_embed.weight': init.normal([vocab, C], 0.3),
         'positions_embed.weight': init.normal([n_pos, C], 0.2)}
    for l in range(n_layer):
        p = 'h.%d.' % l
        W[p + 'attn.c_attn.weight'] = init.normal([C, 3 * C], 0.2)
        W[p + 'attn.c_attn.bias'] = init.normal([3 * C], 0.1)
        W[p + 'attn.c_proj.weight'] = init.normal([C, C], 0.2)
        W[p + 'attn.c_proj.bias'] = init.normal([C], 0.1)
        W[p + 'ln_1.weight'] = init.ln_weight(C)
        W[p + 'ln_1.bias'] = init.ln_bias(C)
        W[p + 'mlp.c_fc.weight'] = init.normal([C, 4 * C], 0.2)
        W[p + 'mlp.c_fc.bias'] = init.normal([4 * C], 0.1)
        W[p + 'mlp.c_proj.weight'] = init.normal([4 * C, C], 0.1)
        W[p + 'mlp.c_proj.bias'] = init.normal([C], 0.1)
        W[p + 'ln_2.weight'] = init.ln_weight(C)
        W[p + 'ln_2.bias'] = init.ln_bias(C)
    return W


def gpt1_manual(W, n_layer, n_head, tokens, eps=1e-5):
    """Second computation of GPT-1: per-head, per-query loops over the visible keys only, explicit
    formulas on the stored [in, out] matrices; the post-LN order written out."""
    w = {k: t64(v) for k, v in W.items()}
    E, P = w['tokens_embed.weight'], w['positions_embed.weight']
    C = E.shape[1]
    hd = C // n_head

    def conv1d(x, name):
        return x @ w[name + '.weight'] + w[name + '.bias']

    def ln(x, name):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * w[name + '.weight'] + w[name + '.bias']

    def gelu(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    outs = []
    for b in range(tokens.shape[0]):
        ids = [int(t) for t in tokens[b]]
        T = len(ids)
        x = torch.stack([E[t] + P[pos] for pos, t in enumerate(ids)])
        for l in range(n_layer):
            p = 'h.%d.' % l
            qkv = conv1d(x, p + 'attn.c_attn')
            q, k, v = qkv[:, :C], qkv[:, C:2 * C], qkv[:, 2 * C:]
            att = torch.zeros(T, C)
            for h in range(n_head):
                s = slice(h * hd, (h + 1) * hd)
                for i in range(T):
                    sc = torch.stack([torch.dot(q[i, s], k[j, s]) / math.sqrt(hd) for j in range(i + 1)])
                    pr = torch.exp(sc - sc.max())
                    pr = pr / pr.sum()
                    att[i, s] = sum(pr[j] * v[j, s] for j in range(i + 1))
            n = ln(x + conv1d(att, p + 'attn.c_proj'), p + 'ln_1')
            x = ln(n + conv1d(gelu(conv1d(n, p + 'mlp.c_fc')), p + 'mlp.c_proj'), p + 'ln_2')
        outs.append(x @ E.t())
    return torch.stack(outs)


GPT1_README = """
# gpt1: GPT-1 (Radford et al. 2018; Hugging Face OpenAIGPT layout), random weights

The decoder of "Improving Language Understanding by Generative Pre-Training" as in OpenAI's
finetune-transformer-lm (`train.py`: `block`, `attn`, `mlp`, `norm`) and its Hugging Face port
`OpenAIGPTModel` / `OpenAIGPTLMHeadModel` (`modeling_openai.py`), with the Hugging Face tensor names
(`OpenAIGPTModel`'s own state-dict names, without the `transformer.` prefix of the LM-head model).
What sets it apart from GPT-2: **post-LN** blocks (the LayerNorm comes after each residual add,
and its output is the residual stream) and **no final LayerNorm**.

## Architecture

| | |
| --- | --- |
| n_embd (C) | {C} |
| n_head | {H} (head_dim {hd}) |
| n_layer | {L} |
| n_positions | {P} |
| vocab_size | {V} |
| MLP | C → 4C = {C4} → C, GELU tanh approximation (finetune-transformer-lm's `gelu`; HF `ACT_FNS["gelu"]` = `gelu_new`) |
| norms | LayerNorm eps 1e-5, **post-LN**: `ln_1` after the attention's residual add, `ln_2` after the MLP's; **no final LayerNorm** |
| lm_head | tied: logits = h · tokens_embedᵀ (no `lm_head.weight` tensor, no bias) |
| attention | causal, scaled by 1/√head_dim (`scale=True`), masked scores set to −1e4 (HF; −1e9 in the original), which underflow to probability 0 exactly as −∞ would |
| biases | on every projection and norm |

Weight layout: Hugging Face `Conv1D`, **[in, out]**, `y = x @ W + b` (`attn.c_attn.weight` [C, 3C],
`attn.c_proj.weight` [C, C], `mlp.c_fc.weight` [C, 4C], `mlp.c_proj.weight` [4C, C]). `c_attn` output
columns 0..C-1 are q, C..2C-1 k, 2C..3C-1 v; head h uses columns h·hd .. h·hd+hd-1 of each. (The
original TF checkpoint keeps token and position embeddings in one matrix `we`; HF splits it into
`tokens_embed` and `positions_embed`, as here.)

## Forward pass (formulas)

For one sequence of T token ids t[0..T-1] (the batch dimension of the files is 1):

```
x[i]   = tokens_embed[t[i]] + positions_embed[i]              # (T, C)
for each layer N:
  qkv   = x @ attn.c_attn.weight + attn.c_attn.bias           # (T, 3C)
  q, k, v = qkv[:, 0:C], qkv[:, C:2C], qkv[:, 2C:3C]          # each (T, n_head, hd)
  s_h[i,j] = q_h[i]·k_h[j] / sqrt(hd)  for j <= i, masked for j > i    # per head h
  p_h   = softmax_j(s_h);   y = concat_h Σ_j p_h[i,j] v_h[j]  # (T, C)
  n     = LN(x + y @ attn.c_proj.weight + attn.c_proj.bias; ln_1)      # post-LN
  m     = n @ mlp.c_fc.weight + mlp.c_fc.bias                 # (T, 4C)
  m     = 0.5·m·(1 + tanh(sqrt(2/π)·(m + 0.044715·m³)))
  x     = LN(n + m @ mlp.c_proj.weight + mlp.c_proj.bias; ln_2)        # post-LN
logits = x @ tokens_embedᵀ                                    # (T, V); no final norm
LN(z; p) = (z-μ)/sqrt(σ²+1e-5)·p.weight + p.bias, μ, σ² over the C features (biased variance)
```

## Reference implementation

Hugging Face `modeling_openai.py`: `Conv1D`, `Attention` (`split_heads` with k permuted to
(B, H, hd, T), `_attn` with `w * b + -1e4 * (1 - b)`, `merge_heads`), `MLP`, `Block` (`n = ln_1(x + a)`,
`h = ln_2(n + m)`), `OpenAIGPTModel.forward` (tokens + positions, no token types) and
`OpenAIGPTLMHeadModel`'s `lm_head` tied to `tokens_embed` — reproduced without dropout, head pruning or
outputs other than the logits.

## Tensors

Weights (`weights.safetensors`, random: numpy RandomState({seed}); tokens_embed std 0.3, positions_embed
0.2, c_attn/c_proj/c_fc weights 0.2, mlp.c_proj weight 0.1, biases 0.1, LayerNorm weights 1 + 0.1·N(0,1),
biases 0.1·N(0,1)):

{wtable}

Inputs (`inputs.safetensors`; ids uniform in [0, {V})):

{itable}

{ids}

Expected (`expected.safetensors`):

{etable}

{stats}

Debug (`debug.safetensors`): `embed` = tokens_embed[t] + positions_embed (1, T, C); `h.N.ln_1` = the
post-attention norm n of block N (1, T, C); `h.N` = block N's output, i.e. after `ln_2` (1, T, C).

## Cross-checks

{cross}
{common}
"""


def case_gpt1(rep, seed=7, C=32, H=4, L=3, P=32, V=90, T=20):
    init = Init(seed)
    W = gpt1_weights(init, C, L, P, V)
    tokens = init.ids([1, T], 0, V)

    model = OpenAIGPTLMHead(OpenAIGPTConfigLite(V, P, C, L, H))
    sd = model.state_dict()
    with torch.no_grad():
        for k in W:
            sd[k].copy_(t64(W[k]))
    assert set(sd) - set(W) == {'lm_head.weight', 'position_ids'} | {'h.%d.attn.bias' % l for l in range(L)}
    model.eval()
    got, remove = hooks([('h.%d' % i, b) for i, b in enumerate(model.h)] +
                        [('h.%d.ln_1' % i, b.ln_1) for i, b in enumerate(model.h)])
    with torch.no_grad():
        logits = model(t64(tokens))
    remove()
    embed = t64(W['tokens_embed.weight'])[t64(tokens)] + t64(W['positions_embed.weight'])[:T]
    debug = [('embed', embed)] + [(k, got[k]) for i in range(L) for k in ('h.%d.ln_1' % i, 'h.%d' % i)]

    manual = gpt1_manual(W, L, H, tokens)
    rep.check("HF OpenAIGPT modules (Conv1D, batched heads, additive -1e4 mask) vs per-head/per-query loops "
              "over the visible keys with the post-LN order written out (logits)", logits, manual)
    with torch.no_grad():
        prefix = model(t64(tokens[:, :7]))
    rep.check("causality: logits of the first 7 tokens run alone vs rows 0..6 of the full run", logits[:, :7], prefix)

    inputs = [('tokens', tokens)]
    expected = [('logits', logits)]
    readme = GPT1_README.format(
        C=C, H=H, hd=C // H, L=L, P=P, V=V, C4=4 * C, seed=seed,
        wtable=tensor_table(list(W.items())), itable=tensor_table(inputs), ids=ids_text(inputs),
        etable=tensor_table(expected), stats=stats_text(expected), cross=rep.text(),
        common=COMMON_README.format(files=files_rows(True), case='gpt1', wsrc=""))
    write_case('gpt1', W, inputs, expected, debug, readme)


# ----------------------------------------------------------------------------------------------
# GPT-3 (Brown et al. 2020): the GPT-2 architecture (nanoGPT's classes above) with layers
# alternating dense causal attention and locally banded attention. The band is a sliding
# window built as Hugging Face's GPT-Neo builds its "local" layers' mask.
# ----------------------------------------------------------------------------------------------

def neo_local_bias(max_positions, window_size):
    """GPTNeoSelfAttention.__init__ (modeling_gpt_neo.py), attention_type "local": the causal
    lower triangle minus everything window_size or more positions back."""
    bias = torch.tril(torch.ones((max_positions, max_positions), dtype=torch.bool)).view(
        1, 1, max_positions, max_positions)
    bias = torch.bitwise_xor(bias, torch.tril(bias, -window_size))
    return bias


def gpt3_model(C, H, L, P, V, W, window, layer_windows):
    """nanoGPT GPT with each banded layer's causal buffer replaced by the local band."""
    model = NanoGPT(NanoGPTConfig(P, V, L, H, C))
    with torch.no_grad():
        for l, block in enumerate(model.transformer.h):
            if layer_windows[l]:
                block.attn.bias.copy_(neo_local_bias(P, window).double())
    sd = model.state_dict()
    keys = [k for k in sd if not k.endswith('.attn.bias') and k != 'lm_head.weight']
    assert sorted(keys) == sorted(W), (sorted(keys), sorted(W))
    with torch.no_grad():
        for k in keys:
            sd[k].copy_(t64(W[k]))
    model.eval()
    return model


def gpt3_manual(W, n_layer, n_head, tokens, layer_windows, eps=1e-5):
    """Second computation of the GPT-3 stack: per-head, per-query loops over the keys each query
    may see (a dense layer: 0..i; a banded layer of width w: max(0, i-w+1)..i), nn.Linear layout."""
    wt = {k: t64(v) for k, v in W.items()}
    g = lambda n: wt['transformer.' + n]
    E = g('wte.weight')
    C = E.shape[1]
    hd = C // n_head

    def lin(x, name):
        return x @ g(name + '.weight').t() + g(name + '.bias')

    def ln(x, name):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * g(name + '.weight') + g(name + '.bias')

    def gelu(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    outs = []
    for b in range(tokens.shape[0]):
        ids = t64(tokens[b])
        T = ids.shape[0]
        x = E[ids] + g('wpe.weight')[:T]
        for l in range(n_layer):
            p = 'h.%d.' % l
            qkv = lin(ln(x, p + 'ln_1'), p + 'attn.c_attn')
            q, k, v = qkv[:, :C], qkv[:, C:2 * C], qkv[:, 2 * C:]
            att = torch.zeros(T, C)
            for h in range(n_head):
                s = slice(h * hd, (h + 1) * hd)
                for i in range(T):
                    first = max(0, i - layer_windows[l] + 1) if layer_windows[l] else 0
                    js = list(range(first, i + 1))
                    sc = torch.stack([(q[i, s] * k[j, s]).sum() / math.sqrt(hd) for j in js])
                    pr = torch.exp(sc - sc.max())
                    pr = pr / pr.sum()
                    att[i, s] = sum(pr[n] * v[j, s] for n, j in enumerate(js))
            x = x + lin(att, p + 'attn.c_proj')
            x = x + lin(gelu(lin(ln(x, p + 'ln_2'), p + 'mlp.c_fc')), p + 'mlp.c_proj')
        outs.append(ln(x, 'ln_f') @ E.t())
    return torch.stack(outs)


def kiln_window_visible(q, k, window):
    """kiln's `mask causal=1 window=W` (docs/ir.md, ir/ops.def), written from its definition for
    the README's mapping check: scores (q, k) of q new queries after k - q cached positions; key j
    is hidden from query i when j > i + k - q (causal) or i + k - q - j >= W (window)."""
    vis = np.ones([q, k], dtype=bool)
    for i in range(q):
        for j in range(k):
            if j > i + k - q or i + k - q - j >= window:
                vis[i, j] = False
    return vis


GPT3_README = """
# gpt3: GPT-3 style decoder (GPT-2 architecture, alternating dense / banded attention), random weights

"Language Models are Few-Shot Learners" (Brown et al. 2020, §2.1): "We use the same model and
architecture as GPT-2 ..., with the exception that we use alternating dense and locally banded
sparse attention patterns in the layers of the transformer, similar to the Sparse Transformer."
GPT-3's band width is not published and no checkpoint exists; this case models the banded layers
as a **sliding causal window of width W = {Wn}**: a query sees itself and the previous W−1 = {Wm1}
keys. **Even layers (0, 2, ...) are dense causal, odd layers (1, 3, ...) banded.** With T = {T}
input tokens the band cuts most of every banded layer's keys (a dense layer sees up to {T}).

## Architecture

| | |
| --- | --- |
| n_embd (C) | {C} |
| n_head | {H} (head_dim {hd}) |
| n_layer | {L}: layers {dense} dense causal, layers {banded} banded (window {Wn}) |
| n_positions | {P} |
| vocab_size | {V} |
| MLP | C → 4C = {C4} → C, GELU tanh approximation |
| norms | LayerNorm eps 1e-5, pre-LN (`ln_1`, `ln_2`), final `ln_f` |
| lm_head | tied: logits = ln_f(x) · wteᵀ (no `lm_head.weight` tensor, no bias) |
| attention | scaled by 1/√head_dim; dense layers causal, banded layers causal within the window |

Weight layout: torch `nn.Linear` (nanoGPT's state dict), **[out, in]**, `y = x @ Wᵀ + b`
(`attn.c_attn.weight` [3C, C], `attn.c_proj.weight` [C, C], `mlp.c_fc.weight` [4C, C],
`mlp.c_proj.weight` [C, 4C]). `c_attn` output rows 0..C-1 are q, C..2C-1 k, 2C..3C-1 v; head h uses
rows h·hd .. h·hd+hd-1 of each. Names have nanoGPT's `transformer.` prefix; the tied
`lm_head.weight` is not stored.

## The band, and kiln's `window`

Key j is visible from query i (0-based absolute positions) when

```
dense layer:   j <= i
banded layer:  i - W < j <= i          i.e. j in [max(0, i-W+1), i]: itself and the previous W-1 keys
```

The reference builds the banded layers' mask as Hugging Face GPT-Neo builds its "local" layers'
(`bias = tril(ones); bias ^= tril(bias, -window_size)`), so W is GPT-Neo's `window_size`. kiln's
`mask causal="1" window="W"` hides key j from query i of a (q new, k total) score block when
j > i + k − q or i + k − q − j >= W; i + k − q is the query's absolute position, so the visible keys
are [pos − W + 1, pos] — the same band: **kiln's `window` attribute is W itself** (not W−1), and
`window="0"` means no band. Checked below for prefill (q = k), one-token decode (q = 1) and a
5-token chunk after cached positions. `model.xml` writes every layer's mask in one `repeat` as
`<op kind="mask" ... causal="1" window="{{i % 2 * band}}"/>` with `<param name="band" value="{Wn}"/>`.
The band must hold through the KV cache too: kiln's tests feed these tokens with a prefill of 2,
4, 5 and 9 then one at a time (`ref/gpt3/kv*`), and the compiled executable one at a time and in
5-token chunks (`exe-max-seq-*/gpt3`).

## Forward pass (formulas)

For one sequence of T token ids t[0..T-1] (the batch dimension of the files is 1):

```
x[i]   = wte[t[i]] + wpe[i]                                   # (T, C)
for each layer N (window w_N = 0 for N even, {Wn} for N odd):
  a     = LN(x; ln_1)                                         # (x-μ)/sqrt(σ²+1e-5)·w + b over C
  qkv   = a @ attn.c_attn.weightᵀ + attn.c_attn.bias          # (T, 3C)
  q, k, v = qkv[:, 0:C], qkv[:, C:2C], qkv[:, 2C:3C]          # each (T, n_head, hd)
  s_h[i,j] = q_h[i]·k_h[j] / sqrt(hd) if j <= i and (w_N = 0 or i - j < w_N), else -inf
  p_h   = softmax_j(s_h);  y = concat_h Σ_j p_h[i,j] v_h[j]   # (T, C)
  x     = x + y @ attn.c_proj.weightᵀ + attn.c_proj.bias
  m     = LN(x; ln_2) @ mlp.c_fc.weightᵀ + mlp.c_fc.bias      # (T, 4C)
  m     = 0.5·m·(1 + tanh(sqrt(2/π)·(m + 0.044715·m³)))
  x     = x + m @ mlp.c_proj.weightᵀ + mlp.c_proj.bias
logits = LN(x; ln_f) @ wteᵀ                                   # (T, V)
```

## Reference implementation

nanoGPT's `model.py` classes (as in the gpt2 cases: `CausalSelfAttention` manual-attention path,
`MLP` with `nn.GELU(approximate='tanh')`, `Block`, `GPT` with tied `lm_head`), loading nanoGPT's own
state-dict names, with one change: in odd layers the registered causal buffer `attn.bias` is replaced
by GPT-Neo's local-attention buffer (`modeling_gpt_neo.py`, `GPTNeoSelfAttention.__init__`,
`attention_type == "local"`), which nanoGPT's `masked_fill(bias == 0, -inf)` then applies.

## Tensors

Weights (`weights.safetensors`, random: numpy RandomState({seed}); wte std 0.3, wpe 0.2, c_attn/c_proj/c_fc
weights 0.2, mlp.c_proj weight 0.1, biases 0.1, LayerNorm weights 1 + 0.1·N(0,1), biases 0.1·N(0,1);
drawn in the order of the table, each matrix already [out, in]):

{wtable}

Inputs (`inputs.safetensors`; ids uniform in [0, {V})):

{itable}

{ids}

Expected (`expected.safetensors`):

{etable}

{stats}

Debug (`debug.safetensors`): `embed` = wte[t]+wpe (1, T, C); `h.N` = residual stream after block N
(1, T, C); `ln_f` = after the final LayerNorm (1, T, C).

## Cross-checks

{cross}
- the band matters: the same weights with every layer dense give logits differing by up to {dense_diff:.3f}
  (max |logits| {peak:.3f}); banded layer 1 alone made dense changes them by up to {one_diff:.3f}.
- kiln's `window` rule (above) gives exactly the reference's band rows: {mapping}.
{common}
"""


def case_gpt3(rep, seed=8, C=32, H=4, L=4, P=32, V=83, T=24, window=4):
    init = Init(seed)
    W = {'transformer.wte.weight': init.normal([V, C], 0.3),
         'transformer.wpe.weight': init.normal([P, C], 0.2)}
    for l in range(L):
        p = 'transformer.h.%d.' % l
        W[p + 'ln_1.weight'] = init.ln_weight(C)
        W[p + 'ln_1.bias'] = init.ln_bias(C)
        W[p + 'attn.c_attn.weight'] = init.normal([3 * C, C], 0.2)
        W[p + 'attn.c_attn.bias'] = init.normal([3 * C], 0.1)
        W[p + 'attn.c_proj.weight'] = init.normal([C, C], 0.2)
        W[p + 'attn.c_proj.bias'] = init.normal([C], 0.1)
        W[p + 'ln_2.weight'] = init.ln_weight(C)
        W[p + 'ln_2.bias'] = init.ln_bias(C)
        W[p + 'mlp.c_fc.weight'] = init.normal([4 * C, C], 0.2)
        W[p + 'mlp.c_fc.bias'] = init.normal([4 * C], 0.1)
        W[p + 'mlp.c_proj.weight'] = init.normal([C, 4 * C], 0.1)
        W[p + 'mlp.c_proj.bias'] = init.normal([C], 0.1)
    W['transformer.ln_f.weight'] = init.ln_weight(C)
    W['transformer.ln_f.bias'] = init.ln_bias(C)
    tokens = init.ids([1, T], 0, V)
    layer_windows = [window if l % 2 == 1 else 0 for l in range(L)]

    model = gpt3_model(C, H, L, P, V, W, window, layer_windows)
    got, remove = hooks([('h.%d' % i, b) for i, b in enumerate(model.transformer.h)] +
                        [('ln_f', model.transformer.ln_f)])
    with torch.no_grad():
        logits = model(t64(tokens))
    remove()
    embed = t64(W['transformer.wte.weight'])[t64(tokens)] + t64(W['transformer.wpe.weight'])[:T]
    debug = [('embed', embed)] + [(k, got[k]) for k in ['h.%d' % i for i in range(L)] + ['ln_f']]

    manual = gpt3_manual(W, L, H, tokens, layer_windows)
    rep.check("nanoGPT with GPT-Neo local-attention buffers in odd layers vs per-head/per-query loops over "
              "each query's visible keys (logits)", logits, manual)
    with torch.no_grad():
        prefix = model(t64(tokens[:, :9]))
    rep.check("causality: logits of the first 9 tokens run alone vs rows 0..8 of the full run",
              logits[:, :9], prefix)

    with torch.no_grad():
        dense = gpt3_model(C, H, L, P, V, W, window, [0] * L)(t64(tokens))
        one = gpt3_model(C, H, L, P, V, W, window, [0, 0] + layer_windows[2:])(t64(tokens))
    dense_diff, peak = maxdiff(logits, dense)
    one_diff = maxdiff(logits, one)[0]
    assert dense_diff > 0.1 * peak and one_diff > 0.01 * peak, (dense_diff, one_diff, peak)
    rep.check("rows 0..W-1 (every key within the band) vs the all-dense model's", logits[:, :window],
              dense[:, :window])

    band = neo_local_bias(P, window)[0, 0].numpy()
    checks = []
    for q, k in [(T, T), (1, 1), (1, window), (1, T), (5, 12), (5, T)]:
        past = k - q
        assert np.array_equal(kiln_window_visible(q, k, window), band[past:past + q, :k]), (q, k)
        checks.append("(q, k) = (%d, %d)" % (q, k))
    mapping = "identical for " + ", ".join(checks)
    print("  [gpt3] kiln window rule = GPT-Neo band: %s" % mapping)

    inputs = [('tokens', tokens)]
    expected = [('logits', logits)]
    readme = GPT3_README.format(
        C=C, H=H, hd=C // H, L=L, P=P, V=V, C4=4 * C, T=T, seed=seed, Wn=window, Wm1=window - 1,
        dense=", ".join(str(l) for l in range(L) if not layer_windows[l]),
        banded=", ".join(str(l) for l in range(L) if layer_windows[l]),
        wtable=tensor_table(list(W.items())), itable=tensor_table(inputs), ids=ids_text(inputs),
        etable=tensor_table(expected), stats=stats_text(expected), cross=rep.text(),
        dense_diff=dense_diff, peak=peak, one_diff=one_diff, mapping=mapping,
        common=COMMON_README.format(files=files_rows(True), case='gpt3', wsrc=""))
    write_case('gpt3', W, inputs, expected, debug, readme)


# ----------------------------------------------------------------------------------------------
# Encoders after BERT, each in the style of its Hugging Face modeling file: ALBERT
# (modeling_albert.py, AlbertForMaskedLM), ELECTRA (modeling_electra.py, ElectraForPreTraining)
# and DistilBERT (modeling_distilbert.py, DistilBertForMaskedLM). The modules keep Hugging Face's
# attribute names, so their state_dict() keys are the names Hugging Face stores in
# model.safetensors (tied parameters left out, as save_pretrained leaves them out); dropout is
# left out (eval mode). The second computation of each case is functional: F.embedding /
# F.layer_norm / F.linear around torch.nn.TransformerEncoderLayer (post-LN), which takes the
# padding mask as src_key_padding_mask.
# ----------------------------------------------------------------------------------------------

class EncoderConfigLite:
    """The fields of AlbertConfig / ElectraConfig / DistilBertConfig that the modules read."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def hf_extended_attention_mask(valid):
    """PreTrainedModel.get_extended_attention_mask: (1 - mask)[:, None, None, :] * finfo.min,
    added to the scores (batch, heads, q, k)."""
    return (1.0 - valid.to(torch.float64))[:, None, None, :] * torch.finfo(torch.float64).min


def load_hf_state(model, W, tied):
    """Copies W (HF name -> float32 array) into model. `tied` maps each state_dict name that
    Hugging Face leaves out of model.safetensors to the parameter it is tied to; every other
    state_dict name must be in W and nothing else (so the names are exactly Hugging Face's)."""
    sd = model.state_dict()
    assert set(sd) - set(tied) == set(W), (sorted(set(sd) - set(tied) - set(W)), sorted(set(W) - set(sd)))
    for name, src in tied.items():
        assert sd[name].data_ptr() == sd[src].data_ptr(), (name, src)
    with torch.no_grad():
        for k, v in W.items():
            sd[k].copy_(t64(v))
    model.eval()


class BertStyleEmbeddingsHF(nn.Module):
    """AlbertEmbeddings = ElectraEmbeddings (both copied from BertEmbeddings, width
    embedding_size): word + token_type + absolute position, then LayerNorm."""

    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.embedding_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.embedding_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.embedding_size)
        self.LayerNorm = nn.LayerNorm(c.embedding_size, eps=c.layer_norm_eps)
        self.register_buffer("position_ids", torch.arange(c.max_position_embeddings).expand((1, -1)),
                             persistent=False)

    def forward(self, input_ids, token_type_ids):
        seq_length = input_ids.size()[1]
        position_ids = self.position_ids[:, :seq_length]
        inputs_embeds = self.word_embeddings(input_ids)
        token_type_embeddings = self.token_type_embeddings(token_type_ids)
        embeddings = inputs_embeds + token_type_embeddings
        embeddings += self.position_embeddings(position_ids)
        return self.LayerNorm(embeddings)


def transpose_for_scores(x, heads, head_size):
    """BertSelfAttention.transpose_for_scores: (B, T, heads*hd) -> (B, heads, T, hd)."""
    x = x.view(x.size()[:-1] + (heads, head_size))
    return x.permute(0, 2, 1, 3)


# ---- ALBERT ----------------------------------------------------------------------------------

class AlbertAttentionHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.num_attention_heads = c.num_attention_heads
        self.attention_head_size = c.hidden_size // c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, hidden_states, attention_mask):
        h, hd = self.num_attention_heads, self.attention_head_size
        query_layer = transpose_for_scores(self.query(hidden_states), h, hd)
        key_layer = transpose_for_scores(self.key(hidden_states), h, hd)
        value_layer = transpose_for_scores(self.value(hidden_states), h, hd)
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(hd)
        attention_scores = attention_scores + attention_mask
        attention_probs = nn.functional.softmax(attention_scores, dim=-1)
        context_layer = torch.matmul(attention_probs, value_layer)
        context_layer = context_layer.transpose(2, 1).flatten(2)
        projected_context_layer = self.dense(context_layer)
        return self.LayerNorm(hidden_states + projected_context_layer)


class AlbertLayerHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.full_layer_layer_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.attention = AlbertAttentionHF(c)
        self.ffn = nn.Linear(c.hidden_size, c.intermediate_size)
        self.ffn_output = nn.Linear(c.intermediate_size, c.hidden_size)
        self.activation = gelu_new  # ACT2FN["gelu_new"]

    def forward(self, hidden_states, attention_mask):
        attention_output = self.attention(hidden_states, attention_mask)
        ffn_output = self.ff_chunk(attention_output)
        return self.full_layer_layer_norm(ffn_output + attention_output)

    def ff_chunk(self, attention_output):
        ffn_output = self.ffn(attention_output)
        ffn_output = self.activation(ffn_output)
        return self.ffn_output(ffn_output)


class AlbertLayerGroupHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.albert_layers = nn.ModuleList([AlbertLayerHF(c) for _ in range(c.inner_group_num)])

    def forward(self, hidden_states, attention_mask):
        for albert_layer in self.albert_layers:
            hidden_states = albert_layer(hidden_states, attention_mask)
        return hidden_states


class AlbertTransformerHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.embedding_hidden_mapping_in = nn.Linear(c.embedding_size, c.hidden_size)
        self.albert_layer_groups = nn.ModuleList([AlbertLayerGroupHF(c) for _ in range(c.num_hidden_groups)])

    def forward(self, hidden_states, attention_mask):
        hidden_states = self.embedding_hidden_mapping_in(hidden_states)
        for i in range(self.config.num_hidden_layers):
            # the same group (its layers' very parameters) for every i when num_hidden_groups = 1
            group_idx = int(i / (self.config.num_hidden_layers / self.config.num_hidden_groups))
            hidden_states = self.albert_layer_groups[group_idx](hidden_states, attention_mask)
        return hidden_states


class AlbertModelHF(nn.Module):
    """AlbertModel(config, add_pooling_layer=False), as AlbertForMaskedLM builds it."""

    def __init__(self, c):
        super().__init__()
        self.embeddings = BertStyleEmbeddingsHF(c)
        self.encoder = AlbertTransformerHF(c)

    def forward(self, input_ids, attention_mask, token_type_ids):
        extended_attention_mask = hf_extended_attention_mask(attention_mask)
        embedding_output = self.embeddings(input_ids, token_type_ids)
        return self.encoder(embedding_output, extended_attention_mask)


class AlbertMLMHeadHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.LayerNorm = nn.LayerNorm(c.embedding_size, eps=c.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(c.vocab_size))
        self.dense = nn.Linear(c.hidden_size, c.embedding_size)
        self.decoder = nn.Linear(c.embedding_size, c.vocab_size)
        self.activation = gelu_new  # ACT2FN[config.hidden_act]
        self.decoder.bias = self.bias

    def forward(self, hidden_states):
        hidden_states = self.dense(hidden_states)
        hidden_states = self.activation(hidden_states)
        hidden_states = self.LayerNorm(hidden_states)
        return self.decoder(hidden_states)


class AlbertForMaskedLMHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.albert = AlbertModelHF(c)
        self.predictions = AlbertMLMHeadHF(c)
        self.predictions.decoder.weight = self.albert.embeddings.word_embeddings.weight  # tie_weights()

    def forward(self, input_ids, attention_mask, token_type_ids):
        sequence_output = self.albert(input_ids, attention_mask, token_type_ids)
        return self.predictions(sequence_output), sequence_output


ALBERT_TIED = {'predictions.decoder.weight': 'albert.embeddings.word_embeddings.weight',
               'predictions.decoder.bias': 'predictions.bias'}
ALBERT_LAYER = 'albert.encoder.albert_layer_groups.0.albert_layers.0.'


# ---- ELECTRA ---------------------------------------------------------------------------------

class ElectraSelfAttentionHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.num_attention_heads = c.num_attention_heads
        self.attention_head_size = c.hidden_size // c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, hidden_states, attention_mask):
        h, hd = self.num_attention_heads, self.attention_head_size
        query_layer = transpose_for_scores(self.query(hidden_states), h, hd)
        key_layer = transpose_for_scores(self.key(hidden_states), h, hd)
        value_layer = transpose_for_scores(self.value(hidden_states), h, hd)
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(hd)
        attention_scores = attention_scores + attention_mask
        attention_probs = nn.functional.softmax(attention_scores, dim=-1)
        context_layer = torch.matmul(attention_probs, value_layer)
        context_layer = context_layer.permute(0, 2, 1, 3).contiguous()
        return context_layer.view(context_layer.size()[:-2] + (h * hd,))


class ElectraSelfOutputHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dense(hidden_states) + input_tensor)


class ElectraAttentionHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = ElectraSelfAttentionHF(c)
        self.output = ElectraSelfOutputHF(c)

    def forward(self, hidden_states, attention_mask):
        return self.output(self.self(hidden_states, attention_mask), hidden_states)


class ElectraIntermediateHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)
        self.intermediate_act_fn = F.gelu  # ACT2FN["gelu"]: exact, erf

    def forward(self, hidden_states):
        return self.intermediate_act_fn(self.dense(hidden_states))


class ElectraOutputHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.intermediate_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dense(hidden_states) + input_tensor)


class ElectraLayerHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = ElectraAttentionHF(c)
        self.intermediate = ElectraIntermediateHF(c)
        self.output = ElectraOutputHF(c)

    def forward(self, hidden_states, attention_mask):
        attention_output = self.attention(hidden_states, attention_mask)
        return self.output(self.intermediate(attention_output), attention_output)


class ElectraEncoderHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([ElectraLayerHF(c) for _ in range(c.num_hidden_layers)])

    def forward(self, hidden_states, attention_mask):
        for layer_module in self.layer:
            hidden_states = layer_module(hidden_states, attention_mask)
        return hidden_states


class ElectraModelHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertStyleEmbeddingsHF(c)
        if c.embedding_size != c.hidden_size:
            self.embeddings_project = nn.Linear(c.embedding_size, c.hidden_size)
        self.encoder = ElectraEncoderHF(c)

    def forward(self, input_ids, attention_mask, token_type_ids):
        extended_attention_mask = hf_extended_attention_mask(attention_mask)
        hidden_states = self.embeddings(input_ids, token_type_ids)
        if hasattr(self, "embeddings_project"):
            hidden_states = self.embeddings_project(hidden_states)
        return self.encoder(hidden_states, extended_attention_mask)


class ElectraDiscriminatorPredictionsHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.activation = F.gelu  # get_activation(config.hidden_act), "gelu"
        self.dense_prediction = nn.Linear(c.hidden_size, 1)

    def forward(self, discriminator_hidden_states):
        hidden_states = self.dense(discriminator_hidden_states)
        hidden_states = self.activation(hidden_states)
        return self.dense_prediction(hidden_states).squeeze(-1)


class ElectraForPreTrainingHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.electra = ElectraModelHF(c)
        self.discriminator_predictions = ElectraDiscriminatorPredictionsHF(c)

    def forward(self, input_ids, attention_mask, token_type_ids):
        discriminator_sequence_output = self.electra(input_ids, attention_mask, token_type_ids)
        logits = self.discriminator_predictions(discriminator_sequence_output)
        return logits, discriminator_sequence_output


# ---- DistilBERT ------------------------------------------------------------------------------

class DistilEmbeddingsHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.dim, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.dim)  # sinusoidal_pos_embds=False
        self.LayerNorm = nn.LayerNorm(c.dim, eps=1e-12)
        self.register_buffer("position_ids", torch.arange(c.max_position_embeddings).expand((1, -1)),
                             persistent=False)

    def forward(self, input_ids):
        input_embeds = self.word_embeddings(input_ids)
        seq_length = input_embeds.size(1)
        position_ids = self.position_ids[:, :seq_length]
        position_embeddings = self.position_embeddings(position_ids)
        embeddings = input_embeds + position_embeddings
        return self.LayerNorm(embeddings)


class DistilMultiHeadSelfAttentionHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_heads = c.n_heads
        self.dim = c.dim
        self.q_lin = nn.Linear(c.dim, c.dim)
        self.k_lin = nn.Linear(c.dim, c.dim)
        self.v_lin = nn.Linear(c.dim, c.dim)
        self.out_lin = nn.Linear(c.dim, c.dim)

    def forward(self, query, key, value, mask):
        bs, q_length, dim = query.size()
        k_length = key.size(1)
        dim_per_head = self.dim // self.n_heads
        mask_reshp = (bs, 1, 1, k_length)

        def shape(x):
            return x.view(bs, -1, self.n_heads, dim_per_head).transpose(1, 2)

        def unshape(x):
            return x.transpose(1, 2).contiguous().view(bs, -1, self.n_heads * dim_per_head)

        q = shape(self.q_lin(query))  # (bs, n_heads, q_length, dim_per_head)
        k = shape(self.k_lin(key))
        v = shape(self.v_lin(value))
        q = q / math.sqrt(dim_per_head)
        scores = torch.matmul(q, k.transpose(2, 3))  # (bs, n_heads, q_length, k_length)
        mask = (mask == 0).view(mask_reshp).expand_as(scores)
        scores = scores.masked_fill(mask, torch.tensor(torch.finfo(scores.dtype).min))
        weights = nn.functional.softmax(scores, dim=-1)
        context = unshape(torch.matmul(weights, v))  # (bs, q_length, dim)
        return self.out_lin(context)


class DistilFFNHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.lin1 = nn.Linear(c.dim, c.hidden_dim)
        self.lin2 = nn.Linear(c.hidden_dim, c.dim)
        self.activation = F.gelu  # get_activation("gelu")

    def forward(self, input):
        return self.lin2(self.activation(self.lin1(input)))


class DistilTransformerBlockHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = DistilMultiHeadSelfAttentionHF(c)
        self.sa_layer_norm = nn.LayerNorm(c.dim, eps=1e-12)
        self.ffn = DistilFFNHF(c)
        self.output_layer_norm = nn.LayerNorm(c.dim, eps=1e-12)

    def forward(self, x, attn_mask):
        sa_output = self.attention(x, x, x, attn_mask)
        sa_output = self.sa_layer_norm(sa_output + x)
        ffn_output = self.ffn(sa_output)
        return self.output_layer_norm(ffn_output + sa_output)


class DistilTransformerHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([DistilTransformerBlockHF(c) for _ in range(c.n_layers)])

    def forward(self, x, attn_mask):
        hidden_state = x
        for layer_module in self.layer:
            hidden_state = layer_module(hidden_state, attn_mask)
        return hidden_state


class DistilBertModelHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = DistilEmbeddingsHF(c)
        self.transformer = DistilTransformerHF(c)

    def forward(self, input_ids, attention_mask):
        return self.transformer(self.embeddings(input_ids), attention_mask)


class DistilBertForMaskedLMHF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.activation = F.gelu  # get_activation(config.activation)
        self.distilbert = DistilBertModelHF(c)
        self.vocab_transform = nn.Linear(c.dim, c.dim)
        self.vocab_layer_norm = nn.LayerNorm(c.dim, eps=1e-12)
        self.vocab_projector = nn.Linear(c.dim, c.vocab_size)
        self.vocab_projector.weight = self.distilbert.embeddings.word_embeddings.weight  # tie_weights()

    def forward(self, input_ids, attention_mask):
        hidden_states = self.distilbert(input_ids, attention_mask)
        prediction_logits = self.vocab_transform(hidden_states)
        prediction_logits = self.activation(prediction_logits)
        prediction_logits = self.vocab_layer_norm(prediction_logits)
        prediction_logits = self.vocab_projector(prediction_logits)
        return prediction_logits, hidden_states


# ---- the second computation: functional embeddings and heads, nn.TransformerEncoderLayer -------

# roles of one post-LN encoder layer -> module path of each family (weight / bias under it)
LAYER_ROLES = {
    'albert': {'q': 'attention.query', 'k': 'attention.key', 'v': 'attention.value', 'o': 'attention.dense',
               'ln1': 'attention.LayerNorm', 'ff1': 'ffn', 'ff2': 'ffn_output', 'ln2': 'full_layer_layer_norm'},
    'electra': {'q': 'attention.self.query', 'k': 'attention.self.key', 'v': 'attention.self.value',
                'o': 'attention.output.dense', 'ln1': 'attention.output.LayerNorm', 'ff1': 'intermediate.dense',
                'ff2': 'output.dense', 'ln2': 'output.LayerNorm'},
    'distilbert': {'q': 'attention.q_lin', 'k': 'attention.k_lin', 'v': 'attention.v_lin', 'o': 'attention.out_lin',
                   'ln1': 'sa_layer_norm', 'ff1': 'ffn.lin1', 'ff2': 'ffn.lin2', 'ln2': 'output_layer_norm'},
}


def post_ln_layer(w, prefix, roles, heads, eps, activation):
    """torch.nn.TransformerEncoderLayer (norm_first=False) holding the layer under `prefix`."""
    def t(role, part):
        return w[prefix + roles[role] + '.' + part]
    d, ff = t('ff1', 'weight').shape[1], t('ff1', 'weight').shape[0]
    L = nn.TransformerEncoderLayer(d_model=d, nhead=heads, dim_feedforward=ff, dropout=0.0, activation=activation,
                                   batch_first=True, norm_first=False, layer_norm_eps=eps)
    with torch.no_grad():
        L.self_attn.in_proj_weight.copy_(torch.cat([t('q', 'weight'), t('k', 'weight'), t('v', 'weight')], 0))
        L.self_attn.in_proj_bias.copy_(torch.cat([t('q', 'bias'), t('k', 'bias'), t('v', 'bias')], 0))
        L.self_attn.out_proj.weight.copy_(t('o', 'weight'))
        L.self_attn.out_proj.bias.copy_(t('o', 'bias'))
        for mine, role in [(L.norm1, 'ln1'), (L.linear1, 'ff1'), (L.linear2, 'ff2'), (L.norm2, 'ln2')]:
            mine.weight.copy_(t(role, 'weight'))
            mine.bias.copy_(t(role, 'bias'))
    L.eval()
    return L


def encoder_functional(family, W, tokens, token_types, valid, heads, n_layer, eps=1e-12):
    """The second computation. Returns (head output, hidden): logits (B, T, V) for albert and
    distilbert, the replaced-token logits (B, T) for electra."""
    w = {k: t64(v) for k, v in W.items()}
    tokens, valid = t64(tokens), t64(valid)
    T = tokens.shape[1]
    pre = {'albert': 'albert.', 'electra': 'electra.', 'distilbert': 'distilbert.'}[family]

    def ln(x, name):
        return F.layer_norm(x, x.shape[-1:], w[name + '.weight'], w[name + '.bias'], eps)

    def lin(x, name, bias=None):
        return F.linear(x, w[name + '.weight'], w[name + '.bias'] if bias is None else bias)

    emb = F.embedding(tokens, w[pre + 'embeddings.word_embeddings.weight'])
    emb = emb + w[pre + 'embeddings.position_embeddings.weight'][:T]
    if token_types is not None:
        emb = emb + F.embedding(t64(token_types), w[pre + 'embeddings.token_type_embeddings.weight'])
    x = ln(emb, pre + 'embeddings.LayerNorm')
    if family == 'albert':
        x = lin(x, 'albert.encoder.embedding_hidden_mapping_in')
        shared = post_ln_layer(w, ALBERT_LAYER, LAYER_ROLES['albert'], heads, eps, gelu_new)
        layers = [shared] * n_layer  # one module, applied n_layer times
    elif family == 'electra':
        x = lin(x, 'electra.embeddings_project')
        layers = [post_ln_layer(w, 'electra.encoder.layer.%d.' % n, LAYER_ROLES['electra'], heads, eps, F.gelu)
                  for n in range(n_layer)]
    else:
        layers = [post_ln_layer(w, 'distilbert.transformer.layer.%d.' % n, LAYER_ROLES['distilbert'], heads, eps,
                                F.gelu) for n in range(n_layer)]
    with torch.enable_grad():  # the plain Python path of TransformerEncoderLayer
        for L in layers:
            x = L(x, src_key_padding_mask=(valid == 0))
    x = x.detach()
    word = w[pre + 'embeddings.word_embeddings.weight']
    if family == 'albert':
        h = ln(gelu_new(lin(x, 'predictions.dense')), 'predictions.LayerNorm')
        return F.linear(h, word, w['predictions.bias']), x
    if family == 'electra':
        h = F.gelu(lin(x, 'discriminator_predictions.dense'))
        return lin(h, 'discriminator_predictions.dense_prediction')[..., 0], x
    h = ln(F.gelu(lin(x, 'vocab_transform')), 'vocab_layer_norm')
    return F.linear(h, word, w['vocab_projector.bias']), x


def encoder_inputs(init, T, lens, V, types):
    """tokens (pad id 0 past each length), valid, and token types (sentence B from the middle of
    each real sequence on) when the family has them."""
    tokens = np.zeros([len(lens), T], dtype=np.int32)
    valid = np.zeros([len(lens), T], dtype=np.int32)
    token_types = np.zeros([len(lens), T], dtype=np.int32)
    for b, n in enumerate(lens):
        tokens[b, :n] = init.ids([n], 1, V)
        valid[b, :n] = 1
        token_types[b, (n + 1) // 2:n] = 1
    return tokens, (token_types if types else None), valid


def encoder_checks(rep, run, fn_out, tokens, token_types, valid, out_name):
    """Cross-checks shared by the three encoder cases. run(tokens, token_types, valid) -> (head, hidden)
    of the Hugging Face-style model; fn_out = the functional computation's (head, hidden)."""
    head, hidden = run(tokens, token_types, valid)
    rep.check("Hugging Face-style modules vs functional embeddings/heads around nn.TransformerEncoderLayer "
              "(%s, all rows)" % out_name, head, fn_out[0])
    rep.check("same (hidden, all rows)", hidden, fn_out[1])
    n1 = int(valid[1].sum())
    tokens2 = tokens.copy()
    tokens2[1, n1:] = np.arange(7, 7 + tokens.shape[1] - n1)
    h2 = run(tokens2, token_types, valid)[0]
    rep.check("padding is masked: %s[1, :%d] with the padded ids changed from 0 to 7, 8, ..." % (out_name, n1),
              head[1, :n1], h2[1, :n1])
    alone = run(tokens[1:, :n1], None if token_types is None else token_types[1:, :n1], valid[1:, :n1])
    rep.check("sequence 1 run alone with length %d (no padding) vs its rows 0..%d in the padded batch (%s)"
              % (n1, n1 - 1, out_name), head[1, :n1], alone[0][0])
    rep.check("same (hidden)", hidden[1, :n1], alone[1][0])
    return head, hidden


ENCODER_INPUTS_NOTE = """Inputs (`inputs.safetensors`): sequence 0 has length {T}, sequence 1 length {n1} padded with id 0 to
{T}; real ids are uniform in [1, {V}).{types_note}"""
ENCODER_TYPES_NOTE = """ Token types: sentence A (0) for the first ⌈n/2⌉ real tokens of a
sequence of length n, sentence B (1) for its other real tokens, 0 at padded positions."""

ENCODER_MASK_ROW = ("| attention mask | keys at padded positions (valid = 0) are excluded; padded query rows are "
                    "computed normally (their outputs are compared too) |")

ALBERT_README = """
# albert: ALBERT (AlbertForMaskedLM), one layer shared by all 3 layers, batch of two with padding, random weights

## Architecture

| | |
| --- | --- |
| vocab_size | {V} (id 0 is used as the padding id) |
| embedding_size (E) | {E} (embeddings and the MLM head's output side) |
| hidden_size (H) | {H} |
| layers | {L} applications of **one** shared layer (num_hidden_groups 1, inner_group_num 1) |
| heads | {heads}, head_dim {hd} |
| intermediate | {I}, gelu_new: gelu_new(z) = 0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³))) (the same in the MLM head) |
| max positions | {P} (learned) |
| token types | 2 (learned) |
| LayerNorm | eps 1e-12 everywhere, post-LN as in BERT (also in the MLM head, where current Hugging Face passes `layer_norm_eps`; older versions left nn.LayerNorm's default 1e-5 there) |
{mask_row}
| MLM head | predictions.dense (H → E), gelu_new, predictions.LayerNorm, decoder tied to the word embeddings (E → V) + predictions.bias |

Weight layout: Hugging Face ALBERT names of `AlbertForMaskedLM` (prefix `albert.`), torch `nn.Linear`
**[out, in]**, `y = x @ Wᵀ + b`. `predictions.decoder.weight` (= `albert.embeddings.word_embeddings.weight`)
and `predictions.decoder.bias` (= `predictions.bias`) are tied and, as `save_pretrained` writes
`model.safetensors`, not stored. There is no pooler (`AlbertForMaskedLM` builds `AlbertModel` with
`add_pooling_layer=False`).

## Forward pass (formulas)

For each sequence b (T = {T}, positions 0..{Tm1} for every row, padded or not); S =
`albert.encoder.albert_layer_groups.0.albert_layers.0.`:

```
e[i]   = word_embeddings[t[i]] + token_type_embeddings[tt[i]] + position_embeddings[i]   # (T, E), under albert.embeddings.
x      = LN(e; albert.embeddings.LayerNorm)          # LN(x) = (x-μ)/sqrt(σ²+1e-12)·w + b over the last axis (biased variance)
x      = x @ albert.encoder.embedding_hidden_mapping_in.weightᵀ + .bias                   # (T, H)
repeat {L} times, with the SAME tensors S... every time:
  q = x @ S.attention.query.weightᵀ + .bias          # (T, H) = (T, {heads} heads, {hd})
  k = x @ S.attention.key.weightᵀ + .bias
  v = x @ S.attention.value.weightᵀ + .bias
  s_h[i,j] = q_h[i]·k_h[j] / sqrt({hd}), and -inf where valid[j] = 0;  p_h = softmax_j(s_h)
  c     = concat_h Σ_j p_h[i,j] v_h[j]               # head h at columns h·{hd}..h·{hd}+{hdm1}
  a     = LN(x + c @ S.attention.dense.weightᵀ + .bias; S.attention.LayerNorm)
  m     = gelu_new(a @ S.ffn.weightᵀ + S.ffn.bias)                                        # (T, {I})
  x     = LN(a + m @ S.ffn_output.weightᵀ + .bias; S.full_layer_layer_norm)
hidden = x                                           # (T, H), all rows including padded ones
y      = LN(gelu_new(hidden @ predictions.dense.weightᵀ + .bias); predictions.LayerNorm)     # (T, E)
logits = y @ albert.embeddings.word_embeddings.weightᵀ + predictions.bias                  # (T, V)
```

## Reference implementation

Hugging Face `modeling_albert.py` rewritten here with its module and attribute names
(`AlbertEmbeddings`, `AlbertTransformer` with `embedding_hidden_mapping_in` and
`albert_layer_groups`, whose group index `int(i / (num_hidden_layers / num_hidden_groups))` is 0 for
every layer, `AlbertLayerGroup`, `AlbertLayer` with `AlbertAttention`, `ffn`, `ffn_output` and
`full_layer_layer_norm`, `AlbertMLMHead` with its tied decoder), the extended attention mask
(1 − mask)·finfo(float64).min added to the scores, eval mode (no dropout). The module's
`state_dict()` names, minus the two tied ones, are exactly the tensors of `weights.safetensors`
(asserted). Second computation: F.embedding / F.layer_norm / F.linear for the embeddings and the
head, and **one** `torch.nn.TransformerEncoderLayer(d_model={H}, nhead={heads}, dim_feedforward={I},
activation=gelu_new, norm_first=False, layer_norm_eps=1e-12)` holding the shared tensors, called {L}
times with `src_key_padding_mask = (valid == 0)`.

## Tensors

Weights (`weights.safetensors`; random: numpy RandomState({seed}); word embeddings std 0.3, position and
token-type 0.2, every other matrix 0.2 except ffn_output 0.15, biases 0.1 (predictions.bias too),
LayerNorm weights 1 + 0.1·N(0,1), biases 0.1·N(0,1)):

{wtable}

{inputs_note}

{itable}

{ids}

Expected (`expected.safetensors`):

{etable}

{stats}

Debug (`debug.safetensors`): `embeddings` = after the embedding LayerNorm (2, {T}, {E}), `mapped` = after
embedding_hidden_mapping_in (2, {T}, {H}), `layer.N` = output of the N-th application of the shared layer
(2, {T}, {H}), `mlm.ln` = after predictions.LayerNorm (2, {T}, {E}).

## Cross-checks

{cross}
{common}
"""

ELECTRA_README = """
# electra: ELECTRA discriminator (ElectraForPreTraining), embedding_size ≠ hidden_size, batch of two with padding, random weights

## Architecture

| | |
| --- | --- |
| vocab_size | {V} (id 0 is used as the padding id) |
| embedding_size (E) | {E}, projected to H by `electra.embeddings_project` (present because E ≠ H) |
| hidden_size (H) | {H} |
| layers | {L} (BERT layers) |
| heads | {heads}, head_dim {hd} |
| intermediate | {I}, GELU exact: gelu(z) = 0.5·z·(1 + erf(z/√2)) (hidden_act "gelu", also in the discriminator head) |
| max positions | {P} (learned) |
| token types | 2 (learned) |
| LayerNorm | eps 1e-12, post-LN as in BERT |
{mask_row}
| discriminator head | dense (H → H), gelu, dense_prediction (H → 1), squeezed: one logit per token ("replaced") |

Weight layout: Hugging Face ELECTRA names of `ElectraForPreTraining` (prefix `electra.`), torch
`nn.Linear` **[out, in]**, `y = x @ Wᵀ + b`. There is no pooler and no MLM head in the discriminator.

## Forward pass (formulas)

For each sequence b (T = {T}, positions 0..{Tm1} for every row, padded or not):

```
e[i]   = word_embeddings[t[i]] + token_type_embeddings[tt[i]] + position_embeddings[i]   # (T, E), under electra.embeddings.
x      = LN(e; electra.embeddings.LayerNorm)          # LN(x) = (x-μ)/sqrt(σ²+1e-12)·w + b over the last axis (biased variance)
x      = x @ electra.embeddings_project.weightᵀ + .bias                                  # (T, H)
for each layer N (prefix electra.encoder.layer.N.):
  q = x @ attention.self.query.weightᵀ + .bias       # (T, H) = (T, {heads} heads, {hd})
  k = x @ attention.self.key.weightᵀ + .bias
  v = x @ attention.self.value.weightᵀ + .bias
  s_h[i,j] = q_h[i]·k_h[j] / sqrt({hd}), and -inf where valid[j] = 0;  p_h = softmax_j(s_h)
  c     = concat_h Σ_j p_h[i,j] v_h[j]               # head h at columns h·{hd}..h·{hd}+{hdm1}
  a     = LN(x + c @ attention.output.dense.weightᵀ + .bias; attention.output.LayerNorm)
  m     = gelu(a @ intermediate.dense.weightᵀ + .bias)                                  # (T, {I})
  x     = LN(a + m @ output.dense.weightᵀ + .bias; output.LayerNorm)
hidden   = x                                         # (T, H), all rows including padded ones
g        = gelu(hidden @ discriminator_predictions.dense.weightᵀ + .bias)               # (T, H)
replaced = g @ discriminator_predictions.dense_prediction.weightᵀ + .bias               # (T, 1) -> (T)
```

## Reference implementation

Hugging Face `modeling_electra.py` rewritten here with its module and attribute names
(`ElectraEmbeddings`, `ElectraModel` with `embeddings_project`, `ElectraEncoder` /
`ElectraLayer` / `ElectraAttention` (`self`, `output`) / `ElectraIntermediate` / `ElectraOutput`,
`ElectraDiscriminatorPredictions` with `dense`, `dense_prediction` and `.squeeze(-1)`), the extended
attention mask (1 − mask)·finfo(float64).min added to the scores, eval mode (no dropout). The
module's `state_dict()` names are exactly the tensors of `weights.safetensors` (asserted). Second
computation: F.embedding / F.layer_norm / F.linear for the embeddings, the projection and the head,
and `torch.nn.TransformerEncoderLayer(d_model={H}, nhead={heads}, dim_feedforward={I},
activation=F.gelu, norm_first=False, layer_norm_eps=1e-12)` per layer with
`src_key_padding_mask = (valid == 0)`.

## Tensors

Weights (`weights.safetensors`; random: numpy RandomState({seed}); word embeddings std 0.3, position and
token-type 0.2, every other matrix 0.2 except output.dense 0.15 and dense_prediction 0.3, biases 0.1,
LayerNorm weights 1 + 0.1·N(0,1), biases 0.1·N(0,1)):

{wtable}

{inputs_note}

{itable}

{ids}

Expected (`expected.safetensors`):

{etable}

{stats}

Debug (`debug.safetensors`): `embeddings` = after the embedding LayerNorm (2, {T}, {E}), `projected` =
after embeddings_project (2, {T}, {H}), `layer.N` = output of encoder layer N (2, {T}, {H}), `disc.act` =
the discriminator head after its gelu (2, {T}, {H}).

## Cross-checks

{cross}
{common}
"""

DISTILBERT_README = """
# distilbert: DistilBERT (DistilBertForMaskedLM), no token types, batch of two with padding, random weights

## Architecture

| | |
| --- | --- |
| vocab_size | {V} (id 0 is used as the padding id) |
| dim (d) | {H} |
| layers | {L} |
| heads | {heads}, head_dim {hd} |
| hidden_dim | {I}, GELU exact: gelu(z) = 0.5·z·(1 + erf(z/√2)) (activation "gelu", also in the MLM head) |
| max positions | {P}, learned (sinusoidal_pos_embds = false) |
| token types | none |
| LayerNorm | eps 1e-12, post-LN (sa_layer_norm after the attention residual, output_layer_norm after the FFN residual) |
{mask_row}
| MLM head | vocab_transform (d → d), gelu, vocab_layer_norm, vocab_projector tied to the word embeddings (d → V) + vocab_projector.bias |

Weight layout: Hugging Face DistilBERT names of `DistilBertForMaskedLM` (prefix `distilbert.`), torch
`nn.Linear` **[out, in]**, `y = x @ Wᵀ + b`. `vocab_projector.weight` (=
`distilbert.embeddings.word_embeddings.weight`) is tied and, as `save_pretrained` writes
`model.safetensors`, not stored; `vocab_projector.bias` is stored.

## Forward pass (formulas)

For each sequence b (T = {T}, positions 0..{Tm1} for every row, padded or not):

```
e[i]   = word_embeddings[t[i]] + position_embeddings[i]                # (T, d), under distilbert.embeddings.
x      = LN(e; distilbert.embeddings.LayerNorm)       # LN(x) = (x-μ)/sqrt(σ²+1e-12)·w + b over d (biased variance)
for each layer N (prefix distilbert.transformer.layer.N.):
  q = x @ attention.q_lin.weightᵀ + .bias            # (T, d) = (T, {heads} heads, {hd})
  k = x @ attention.k_lin.weightᵀ + .bias
  v = x @ attention.v_lin.weightᵀ + .bias
  s_h[i,j] = (q_h[i] / sqrt({hd}))·k_h[j], and -inf where valid[j] = 0;  p_h = softmax_j(s_h)
  c     = concat_h Σ_j p_h[i,j] v_h[j]               # head h at columns h·{hd}..h·{hd}+{hdm1}
  a     = LN(c @ attention.out_lin.weightᵀ + .bias + x; sa_layer_norm)
  m     = gelu(a @ ffn.lin1.weightᵀ + .bias)                             # (T, {I})
  x     = LN(m @ ffn.lin2.weightᵀ + .bias + a; output_layer_norm)
hidden = x                                            # (T, d), all rows including padded ones
y      = LN(gelu(hidden @ vocab_transform.weightᵀ + .bias); vocab_layer_norm)             # (T, d)
logits = y @ distilbert.embeddings.word_embeddings.weightᵀ + vocab_projector.bias        # (T, V)
```

## Reference implementation

Hugging Face `modeling_distilbert.py` rewritten here with its module and attribute names
(`Embeddings`, `Transformer` / `TransformerBlock` with `attention` (`MultiHeadSelfAttention`: q
divided by sqrt(dim_per_head) before q·kᵀ, padded keys filled with finfo(float64).min),
`sa_layer_norm`, `ffn` (`FFN`: `lin1`, `lin2`), `output_layer_norm`; `DistilBertForMaskedLM` with
`vocab_transform`, `vocab_layer_norm` and the tied `vocab_projector`), eval mode (no dropout). The
module's `state_dict()` names, minus the tied one, are exactly the tensors of `weights.safetensors`
(asserted). Second computation: F.embedding / F.layer_norm / F.linear for the embeddings and the head,
and `torch.nn.TransformerEncoderLayer(d_model={H}, nhead={heads}, dim_feedforward={I}, activation=F.gelu,
norm_first=False, layer_norm_eps=1e-12)` per layer with `src_key_padding_mask = (valid == 0)`.

## Tensors

Weights (`weights.safetensors`; random: numpy RandomState({seed}); word embeddings std 0.3, position 0.2,
every other matrix 0.2 except ffn.lin2 0.15, biases 0.1, LayerNorm weights 1 + 0.1·N(0,1), biases
0.1·N(0,1)):

{wtable}

{inputs_note}

{itable}

{ids}

Expected (`expected.safetensors`):

{etable}

{stats}

Debug (`debug.safetensors`): `embeddings` = after the embedding LayerNorm (2, {T}, {H}), `layer.N` = output
of transformer layer N (2, {T}, {H}), `mlm.ln` = after vocab_layer_norm (2, {T}, {H}).

## Cross-checks

{cross}
{common}
"""


def encoder_readme(template, case, seed, W, inputs, expected, cross, T, lens, V, types, **dims):
    note = ENCODER_INPUTS_NOTE.format(T=T, n1=lens[1], V=V, types_note=ENCODER_TYPES_NOTE if types else "")
    return template.format(
        seed=seed, V=V, T=T, Tm1=T - 1, mask_row=ENCODER_MASK_ROW, inputs_note=note,
        hd=dims['H'] // dims['heads'], hdm1=dims['H'] // dims['heads'] - 1,
        wtable=tensor_table(list(W.items())), itable=tensor_table(inputs), ids=ids_text(inputs),
        etable=tensor_table(expected), stats=stats_text(expected), cross=cross,
        common=COMMON_README.format(files=files_rows(True), case=case, wsrc=""), **dims)


def case_albert(rep, seed=11, V=60, E=16, H=32, heads=4, I=64, L=3, P=16, T=7, lens=(7, 5)):
    init = Init(seed)
    W = {}
    W['albert.embeddings.word_embeddings.weight'] = init.normal([V, E], 0.3)
    W['albert.embeddings.position_embeddings.weight'] = init.normal([P, E], 0.2)
    W['albert.embeddings.token_type_embeddings.weight'] = init.normal([2, E], 0.2)
    W['albert.embeddings.LayerNorm.weight'] = init.ln_weight(E)
    W['albert.embeddings.LayerNorm.bias'] = init.ln_bias(E)
    W['albert.encoder.embedding_hidden_mapping_in.weight'] = init.normal([H, E], 0.2)
    W['albert.encoder.embedding_hidden_mapping_in.bias'] = init.normal([H], 0.1)
    S = ALBERT_LAYER
    W[S + 'full_layer_layer_norm.weight'] = init.ln_weight(H)
    W[S + 'full_layer_layer_norm.bias'] = init.ln_bias(H)
    for part in ['query', 'key', 'value', 'dense']:
        W[S + 'attention.%s.weight' % part] = init.normal([H, H], 0.2)
        W[S + 'attention.%s.bias' % part] = init.normal([H], 0.1)
    W[S + 'attention.LayerNorm.weight'] = init.ln_weight(H)
    W[S + 'attention.LayerNorm.bias'] = init.ln_bias(H)
    W[S + 'ffn.weight'] = init.normal([I, H], 0.2)
    W[S + 'ffn.bias'] = init.normal([I], 0.1)
    W[S + 'ffn_output.weight'] = init.normal([H, I], 0.15)
    W[S + 'ffn_output.bias'] = init.normal([H], 0.1)
    W['predictions.bias'] = init.normal([V], 0.1)
    W['predictions.dense.weight'] = init.normal([E, H], 0.2)
    W['predictions.dense.bias'] = init.normal([E], 0.1)
    W['predictions.LayerNorm.weight'] = init.ln_weight(E)
    W['predictions.LayerNorm.bias'] = init.ln_bias(E)
    tokens, token_types, valid = encoder_inputs(init, T, lens, V, types=True)

    c = EncoderConfigLite(vocab_size=V, embedding_size=E, hidden_size=H, num_attention_heads=heads,
                          intermediate_size=I, num_hidden_layers=L, num_hidden_groups=1, inner_group_num=1,
                          max_position_embeddings=P, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0)
    model = AlbertForMaskedLMHF(c)
    load_hf_state(model, W, ALBERT_TIED)
    shared = model.albert.encoder.albert_layer_groups[0].albert_layers[0]
    applied = []  # the output of each application of the one shared layer
    handle = shared.register_forward_hook(lambda m, i, o: applied.append(o.detach().clone()))
    got, remove = hooks([('embeddings', model.albert.embeddings),
                         ('mapped', model.albert.encoder.embedding_hidden_mapping_in),
                         ('mlm.ln', model.predictions.LayerNorm)])

    def run(tk, tt, va):
        with torch.no_grad():
            return model(t64(tk), t64(va), t64(tt))
    logits, hidden = run(tokens, token_types, valid)
    remove()
    handle.remove()
    assert len(applied) == L
    debug = [(k, got[k]) for k in ['embeddings', 'mapped']] + [('layer.%d' % n, applied[n]) for n in range(L)]
    debug.append(('mlm.ln', got['mlm.ln']))

    fn = encoder_functional('albert', W, tokens, token_types, valid, heads, L)
    encoder_checks(rep, run, fn, tokens, token_types, valid, 'logits')
    inputs = [('tokens', tokens), ('token_types', token_types), ('valid', valid)]
    expected = [('logits', logits), ('hidden', hidden)]
    readme = encoder_readme(ALBERT_README, 'albert', seed, W, inputs, expected, rep.text(), T, lens, V, True,
                            E=E, H=H, heads=heads, I=I, L=L, P=P)
    write_case('albert', W, inputs, expected, debug, readme)


def case_electra(rep, seed=12, V=56, E=16, H=32, heads=4, I=64, L=2, P=16, T=7, lens=(7, 3)):
    init = Init(seed)
    W = {}
    W['electra.embeddings.word_embeddings.weight'] = init.normal([V, E], 0.3)
    W['electra.embeddings.position_embeddings.weight'] = init.normal([P, E], 0.2)
    W['electra.embeddings.token_type_embeddings.weight'] = init.normal([2, E], 0.2)
    W['electra.embeddings.LayerNorm.weight'] = init.ln_weight(E)
    W['electra.embeddings.LayerNorm.bias'] = init.ln_bias(E)
    W['electra.embeddings_project.weight'] = init.normal([H, E], 0.2)
    W['electra.embeddings_project.bias'] = init.normal([H], 0.1)
    for n in range(L):
        p = 'electra.encoder.layer.%d.' % n
        for part in ['query', 'key', 'value']:
            W[p + 'attention.self.%s.weight' % part] = init.normal([H, H], 0.2)
            W[p + 'attention.self.%s.bias' % part] = init.normal([H], 0.1)
        W[p + 'attention.output.dense.weight'] = init.normal([H, H], 0.2)
        W[p + 'attention.output.dense.bias'] = init.normal([H], 0.1)
        W[p + 'attention.output.LayerNorm.weight'] = init.ln_weight(H)
        W[p + 'attention.output.LayerNorm.bias'] = init.ln_bias(H)
        W[p + 'intermediate.dense.weight'] = init.normal([I, H], 0.2)
        W[p + 'intermediate.dense.bias'] = init.normal([I], 0.1)
        W[p + 'output.dense.weight'] = init.normal([H, I], 0.15)
        W[p + 'output.dense.bias'] = init.normal([H], 0.1)
        W[p + 'output.LayerNorm.weight'] = init.ln_weight(H)
        W[p + 'output.LayerNorm.bias'] = init.ln_bias(H)
    W['discriminator_predictions.dense.weight'] = init.normal([H, H], 0.2)
    W['discriminator_predictions.dense.bias'] = init.normal([H], 0.1)
    W['discriminator_predictions.dense_prediction.weight'] = init.normal([1, H], 0.3)
    W['discriminator_predictions.dense_prediction.bias'] = init.normal([1], 0.1)
    tokens, token_types, valid = encoder_inputs(init, T, lens, V, types=True)

    c = EncoderConfigLite(vocab_size=V, embedding_size=E, hidden_size=H, num_attention_heads=heads,
                          intermediate_size=I, num_hidden_layers=L, max_position_embeddings=P, type_vocab_size=2,
                          layer_norm_eps=1e-12, pad_token_id=0)
    model = ElectraForPreTrainingHF(c)
    load_hf_state(model, W, {})
    dp = model.discriminator_predictions
    got, remove = hooks([('embeddings', model.electra.embeddings), ('projected', model.electra.embeddings_project)] +
                        [('layer.%d' % n, l) for n, l in enumerate(model.electra.encoder.layer)] +
                        [('disc.dense', dp.dense)])

    def run(tk, tt, va):
        with torch.no_grad():
            return model(t64(tk), t64(va), t64(tt))
    replaced, hidden = run(tokens, token_types, valid)
    remove()
    debug = [(k, got[k]) for k in ['embeddings', 'projected'] + ['layer.%d' % n for n in range(L)]]
    debug.append(('disc.act', F.gelu(got['disc.dense'])))

    fn = encoder_functional('electra', W, tokens, token_types, valid, heads, L)
    encoder_checks(rep, run, fn, tokens, token_types, valid, 'replaced')
    inputs = [('tokens', tokens), ('token_types', token_types), ('valid', valid)]
    expected = [('replaced', replaced), ('hidden', hidden)]
    readme = encoder_readme(ELECTRA_README, 'electra', seed, W, inputs, expected, rep.text(), T, lens, V, True,
                            E=E, H=H, heads=heads, I=I, L=L, P=P)
    write_case('electra', W, inputs, expected, debug, readme)


def case_distilbert(rep, seed=13, V=48, H=32, heads=4, I=64, L=2, P=16, T=8, lens=(8, 5)):
    init = Init(seed)
    W = {}
    W['distilbert.embeddings.word_embeddings.weight'] = init.normal([V, H], 0.3)
    W['distilbert.embeddings.position_embeddings.weight'] = init.normal([P, H], 0.2)
    W['distilbert.embeddings.LayerNorm.weight'] = init.ln_weight(H)
    W['distilbert.embeddings.LayerNorm.bias'] = init.ln_bias(H)
    for n in range(L):
        p = 'distilbert.transformer.layer.%d.' % n
        for part in ['q_lin', 'k_lin', 'v_lin', 'out_lin']:
            W[p + 'attention.%s.weight' % part] = init.normal([H, H], 0.2)
            W[p + 'attention.%s.bias' % part] = init.normal([H], 0.1)
        W[p + 'sa_layer_norm.weight'] = init.ln_weight(H)
        W[p + 'sa_layer_norm.bias'] = init.ln_bias(H)
        W[p + 'ffn.lin1.weight'] = init.normal([I, H], 0.2)
        W[p + 'ffn.lin1.bias'] = init.normal([I], 0.1)
        W[p + 'ffn.lin2.weight'] = init.normal([H, I], 0.15)
        W[p + 'ffn.lin2.bias'] = init.normal([H], 0.1)
        W[p + 'output_layer_norm.weight'] = init.ln_weight(H)
        W[p + 'output_layer_norm.bias'] = init.ln_bias(H)
    W['vocab_transform.weight'] = init.normal([H, H], 0.2)
    W['vocab_transform.bias'] = init.normal([H], 0.1)
    W['vocab_layer_norm.weight'] = init.ln_weight(H)
    W['vocab_layer_norm.bias'] = init.ln_bias(H)
    W['vocab_projector.bias'] = init.normal([V], 0.1)
    tokens, _, valid = encoder_inputs(init, T, lens, V, types=False)

    c = EncoderConfigLite(vocab_size=V, dim=H, n_heads=heads, hidden_dim=I, n_layers=L, max_position_embeddings=P,
                          pad_token_id=0)
    model = DistilBertForMaskedLMHF(c)
    load_hf_state(model, W, {'vocab_projector.weight': 'distilbert.embeddings.word_embeddings.weight'})
    got, remove = hooks([('embeddings', model.distilbert.embeddings)] +
                        [('layer.%d' % n, l) for n, l in enumerate(model.distilbert.transformer.layer)] +
                        [('mlm.ln', model.vocab_layer_norm)])

    def run(tk, tt, va):
        with torch.no_grad():
            return model(t64(tk), t64(va))
    logits, hidden = run(tokens, None, valid)
    remove()
    debug = [(k, got[k]) for k in ['embeddings'] + ['layer.%d' % n for n in range(L)] + ['mlm.ln']]

    fn = encoder_functional('distilbert', W, tokens, None, valid, heads, L)
    encoder_checks(rep, run, fn, tokens, None, valid, 'logits')
    inputs = [('tokens', tokens), ('valid', valid)]
    expected = [('logits', logits), ('hidden', hidden)]
    readme = encoder_readme(DISTILBERT_README, 'distilbert', seed, W, inputs, expected, rep.text(), T, lens, V,
                            False, H=H, heads=heads, I=I, L=L, P=P)
    write_case('distilbert', W, inputs, expected, debug, readme)


# ----------------------------------------------------------------------------------------------

GPT2A_INTRO = ("Tensor names **without** a prefix, as in Hugging Face `GPT2Model` checkpoints "
               "(e.g. the `gpt2` model on the Hub): `wte.weight`, `h.0.attn.c_attn.weight`, ...")
GPT2B_INTRO = ("Tensor names **with** the `transformer.` prefix, as written by Hugging Face "
               "`GPT2LMHeadModel.save_pretrained` (the tied `lm_head.weight` is not stored). A Hugging Face "
               "`config.json` sits beside the weights, and `model.safetensors` is a symbolic link to "
               "`weights.safetensors`, so that `kiln import tests/ref/gpt2-b` can treat this folder as a Hugging "
               "Face model folder.")

CASES = ['gpt2-a', 'gpt2-b', 'makemore-names', 'makemore-tr-names', 'llama-interleaved', 'llama-half',
         'llama2xs', 'bert', 'encdec', 'gpt1', 'gpt3', 'albert', 'electra', 'distilbert']


def main(argv):
    want = argv or CASES
    bad = [c for c in want if c not in CASES]
    if bad:
        sys.stderr.write("make_refs.py: unknown case(s) %s; cases: %s\n" % (", ".join(bad), ", ".join(CASES)))
        return 2
    reps = []
    if 'gpt2-a' in want:
        reps.append(case_gpt2('gpt2-a', 1, C=32, H=4, L=2, P=24, V=101, T=20, prefix='', intro=GPT2A_INTRO))
    if 'gpt2-b' in want:
        reps.append(case_gpt2('gpt2-b', 2, C=48, H=3, L=3, P=40, V=77, T=33, prefix='transformer.',
                              intro=GPT2B_INTRO, config=gpt2_config(48, 3, 3, 40, 77)))
    if 'makemore-names' in want:
        reps.append(case_makemore('makemore-names', 'makemore-names-gpt',
                                  ['.emma', '.olivia', '.', '.emma.olivia.ava']))
    if 'makemore-tr-names' in want:
        reps.append(case_makemore('makemore-tr-names', 'makemore-tr-names-gpt',
                                  ['.ayse', '.mehmet', '.', '.zeynep.mehmet.']))
    if 'llama-interleaved' in want or 'llama-half' in want:
        ri, rh = Report('llama-interleaved'), Report('llama-half')
        case_llama(ri, rh)  # both folders are written together (shared weights)
        reps += [ri, rh]
    if 'llama2xs' in want:
        r = Report('llama2xs')
        case_llama2xs(r)
        reps.append(r)
    if 'bert' in want:
        r = Report('bert')
        case_bert(r)
        reps.append(r)
    if 'encdec' in want:
        r = Report('encdec')
        case_encdec(r)
        reps.append(r)
    if 'gpt1' in want:
        r = Report('gpt1')
        case_gpt1(r)
        reps.append(r)
    if 'gpt3' in want:
        r = Report('gpt3')
        case_gpt3(r)
        reps.append(r)
    for case, make in [('albert', case_albert), ('electra', case_electra), ('distilbert', case_distilbert)]:
        if case in want:
            r = Report(case)
            make(r)
            reps.append(r)
    failed = [r.case for r in reps if r.failed]
    if failed:
        sys.stderr.write("make_refs.py: cross-check disagreement in %s\n" % ", ".join(failed))
        return 1
    print("ok: %s" % ", ".join(r.case for r in reps))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
