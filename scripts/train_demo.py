#!/usr/bin/python3
"""Train kiln's bundled demo model: a tiny GPT-2 on the King James Bible.

Usage (from the repository root; takes 12-15 minutes on one CPU thread):

    apt-get install bible-kjv bible-kjv-text      # the text (public domain) + its reader
    apt-get install libopenblas0-serial           # optional but ~10x faster: Debian's torch
                                                  # otherwise uses the reference BLAS
    /usr/bin/python3 scripts/train_demo.py --out models/tiny
    /usr/bin/python3 scripts/train_demo.py --out models/tiny --reference-only  # only step 5

Needs only Debian's python3-torch (1.13) and python3-numpy; nothing is downloaded.

What it does, in order:
  1. Extracts the whole KJV text with the `bible` CLI (package bible-kjv, reading the compressed
     data of bible-kjv-text): one verse per line, verse references removed, runs of spaces
     collapsed, line endings normalised to "\n". Each of the 66 books is one document; documents
     are separated by the <|endoftext|> token when the corpus is tokenized.
  2. Trains a byte-level BPE tokenizer in GPT-2's format (vocab.json + merges.txt):
       ids 0..255   the 256 byte tokens, spelled with GPT-2's bytes_to_unicode() mapping and in
                    the same order as GPT-2's encoder.json (ids 0..255 are identical to GPT-2's);
       ids 256..    one token per merge, in merge (priority) order;
       last id      <|endoftext|>.
     Merges are learned on the pieces of GPT-2's pre-tokenizer regex
        's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
     Python's `re` has no \\p{..}: the script builds explicit character classes for \\p{L} and
     \\p{N} from unicodedata (general categories L* and N*) and spells \\s as the Unicode
     White_Space set, so the pattern is the GPT-2 one up to the Unicode version of Python's
     unicodedata (the corpus is pure ASCII anyway). Ties between equally frequent pairs go to
     the lexicographically smallest pair; a merge whose result string already is a token is
     never learned, so every token has exactly one producing merge, which makes the standard
     GPT-2 encoder (merge the lowest-rank adjacent pair until none is left) reproduce the
     training segmentation exactly -- the script checks this for every distinct piece, then
     tokenizes the corpus with that standard encoder.
  3. Trains a nanoGPT-style GPT-2 (learned positions, pre-LN, gelu tanh approximation
     ("gelu_new"), tied lm_head, biases everywhere, no dropout) with AdamW, linear warm-up and
     cosine decay, printing train/val loss. 5% of the corpus (every 20th 4096-token block) is
     held out for validation.
  4. Writes a Hugging Face GPT-2 folder: config.json, model.safetensors (written by hand, HF
     GPT2LMHeadModel names; Conv1D weights stored [in, out]; no lm_head.weight since it is tied),
     vocab.json, merges.txt, README.md.
  5. Writes reference.json (+ reference_logits.f32) for kiln's tests: prompts, their token ids,
     24 greedy new tokens and logits, all computed by an independent plain forward pass of the
     weights re-read from the written model.safetensors.

Deterministic given --seed (single thread, fixed step count, seeded torch generators), as far
as torch/BLAS kernels are deterministic; a different BLAS may change the last bits.
"""
import argparse
import collections
import json
import math
import os
import re
import struct
import subprocess
import sys
import time
import unicodedata

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

EOT = "<|endoftext|>"

# --------------------------------------------------------------------------------------------
# 1. text
# --------------------------------------------------------------------------------------------

REF_RE = re.compile(r"^([0-9]?[A-Za-z]+)([0-9]+):([0-9]+) (.*)$")


def package_version(pkg):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def extract_kjv():
    """Returns a list of (book_abbrev, text) with one verse per line, in canonical order."""
    try:
        out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], stdin=subprocess.DEVNULL,
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"cannot run `bible` ({e}); install it: apt-get install bible-kjv bible-kjv-text")
    text = out.decode("ascii").replace("\r\n", "\n").replace("\r", "\n")
    books = []  # [(abbrev, [verses])]
    for line in text.split("\n"):
        if not line.strip():
            continue
        m = REF_RE.match(line)
        if not m:
            sys.exit(f"unexpected line from `bible`: {line!r}")
        book, verse = m.group(1), " ".join(m.group(4).split())
        if not books or books[-1][0] != book:
            books.append((book, []))
        books[-1][1].append(verse)
    nverses = sum(len(v) for _, v in books)
    if len(books) != 66 or nverses != 31102:
        sys.exit(f"expected 66 books / 31102 verses, got {len(books)} / {nverses}")
    return [(b, "\n".join(v) + "\n") for b, v in books]


# --------------------------------------------------------------------------------------------
# 2. GPT-2 byte-level BPE
# --------------------------------------------------------------------------------------------

def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode char mapping (list order = encoder id order)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return list(zip(bs, [chr(c) for c in cs]))


BYTE_PAIRS = bytes_to_unicode()
BYTE_ENCODER = dict(BYTE_PAIRS)
BYTE_DECODER = {c: b for b, c in BYTE_PAIRS}

# Unicode White_Space (what \s means in the `regex` module GPT-2 uses)
WS = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def _category_class(prefix):
    """Regex class body matching every code point whose general category starts with prefix."""
    parts, start, prev = [], None, None
    for cp in range(0x110000):
        if unicodedata.category(chr(cp)).startswith(prefix):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            parts.append((start, prev))
            start = None
    if start is not None:
        parts.append((start, prev))
    esc = lambda cp: "\\U%08x" % cp
    return "".join(esc(a) if a == b else esc(a) + "-" + esc(b) for a, b in parts)


def gpt2_pattern():
    L, N = _category_class("L"), _category_class("N")
    return re.compile(
        r"'s|'t|'re|'ve|'m|'ll|'d"
        rf"| ?[{L}]+| ?[{N}]+| ?[^{WS}{L}{N}]+"
        rf"|[{WS}]+(?![^{WS}])|[{WS}]+")


PAT = None  # compiled lazily (building the classes takes ~1 s)


def pretokenize(text):
    global PAT
    if PAT is None:
        PAT = gpt2_pattern()
    return PAT.findall(text)


def to_byte_chars(piece):
    return "".join(BYTE_ENCODER[b] for b in piece.encode("utf-8"))


def train_bpe(texts, n_merges):
    """Classic BPE on pre-tokenized pieces. Returns (merges, {piece_chars: segmentation})."""
    counts = collections.Counter()
    for t in texts:
        counts.update(pretokenize(t))
    words = [list(to_byte_chars(p)) for p in counts]
    freqs = list(counts.values())
    keys = ["".join(w) for w in words]
    vocab = set(c for _, c in BYTE_PAIRS)
    pair_counts = collections.Counter()
    where = collections.defaultdict(set)  # pair -> word indices containing it
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += freqs[i]
            where[(a, b)].add(i)
    merges, banned = [], set()
    while len(merges) < n_merges:
        best = None
        for p, c in pair_counts.items():
            if c <= 0 or p in banned:
                continue
            if best is None or c > best[1] or (c == best[1] and p < best[0]):
                best = (p, c)
        if best is None or best[1] < 2:
            break
        (a, b), _ = best
        if a + b in vocab:  # keep one producing merge per token string
            banned.add((a, b))
            continue
        merges.append((a, b))
        vocab.add(a + b)
        for i in sorted(where.pop((a, b))):
            w, f = words[i], freqs[i]
            for x, y in zip(w, w[1:]):
                pair_counts[(x, y)] -= f
            j, nw = 0, []
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    nw.append(a + b)
                    j += 2
                else:
                    nw.append(w[j])
                    j += 1
            words[i] = nw
            for x, y in zip(nw, nw[1:]):
                pair_counts[(x, y)] += f
                where[(x, y)].add(i)
        pair_counts.pop((a, b), None)
    return merges, dict(zip(keys, words)), counts


class GPT2Tokenizer:
    """The standard GPT-2 encoder (as in OpenAI's encoder.py), from vocab.json + merges.txt."""

    def __init__(self, vocab_path, merges_path):
        with open(vocab_path, encoding="utf-8") as f:
            self.encoder = json.load(f)
        self.decoder = {v: k for k, v in self.encoder.items()}
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        assert lines[0].startswith("#version")
        merges = [tuple(l.split(" ")) for l in lines[1:] if l]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new.extend(word[i:])
                    break
                new.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = new
        self.cache[token] = word
        return word

    def encode(self, text):
        ids = []
        for piece in pretokenize(text):
            ids.extend(self.encoder[t] for t in self.bpe(to_byte_chars(piece)))
        return ids

    def decode(self, ids):
        s = "".join(self.decoder[i] for i in ids)
        return bytearray(BYTE_DECODER[c] for c in s).decode("utf-8", errors="replace")


def write_tokenizer(out, merges):
    vocab = {c: i for i, (_, c) in enumerate(BYTE_PAIRS)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab[EOT] = len(vocab)
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    return vocab


# --------------------------------------------------------------------------------------------
# 3. model (training side)
# --------------------------------------------------------------------------------------------

class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.c_attn = nn.Linear(C, 3 * C)
        self.attn_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x, mask):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // self.H))
        att = att.masked_fill(mask[:T, :T], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.attn_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, V, P, C, L, H):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(P, C)
        self.h = nn.ModuleList([Block(C, H) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C, eps=1e-5)
        self.register_buffer("mask", ~torch.tril(torch.ones(P, P, dtype=torch.bool)),
                             persistent=False)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif "ln_" in name:
                nn.init.ones_(p)
            elif name.endswith("proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * L))
            else:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.h:
            x = b(x, self.mask)
        return self.ln_f(x) @ self.wte.weight.t()

    def hf_state(self):
        """Tensors under Hugging Face GPT2LMHeadModel names and layouts (Conv1D = [in, out])."""
        t = lambda p: p.detach().float().numpy()
        st = {"transformer.wte.weight": t(self.wte.weight),
              "transformer.wpe.weight": t(self.wpe.weight)}
        for i, b in enumerate(self.h):
            pre = f"transformer.h.{i}."
            st[pre + "ln_1.weight"] = t(b.ln_1.weight)
            st[pre + "ln_1.bias"] = t(b.ln_1.bias)
            st[pre + "attn.c_attn.weight"] = t(b.c_attn.weight).T
            st[pre + "attn.c_attn.bias"] = t(b.c_attn.bias)
            st[pre + "attn.c_proj.weight"] = t(b.attn_proj.weight).T
            st[pre + "attn.c_proj.bias"] = t(b.attn_proj.bias)
            st[pre + "ln_2.weight"] = t(b.ln_2.weight)
            st[pre + "ln_2.bias"] = t(b.ln_2.bias)
            st[pre + "mlp.c_fc.weight"] = t(b.c_fc.weight).T
            st[pre + "mlp.c_fc.bias"] = t(b.c_fc.bias)
            st[pre + "mlp.c_proj.weight"] = t(b.mlp_proj.weight).T
            st[pre + "mlp.c_proj.bias"] = t(b.mlp_proj.bias)
        st["transformer.ln_f.weight"] = t(self.ln_f.weight)
        st["transformer.ln_f.bias"] = t(self.ln_f.bias)
        return st


# --------------------------------------------------------------------------------------------
# 4. safetensors (by hand)
# --------------------------------------------------------------------------------------------

def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for d in blobs:
            f.write(d)


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32"
        a, b = info["data_offsets"]
        assert base + b <= len(buf)
        out[name] = np.frombuffer(buf[base + a:base + b], dtype="<f4").reshape(info["shape"])
    return out


# --------------------------------------------------------------------------------------------
# 5. independent reference forward (plain float64-free torch ops on the HF layout)
# --------------------------------------------------------------------------------------------

def ref_forward(w, cfg, ids):
    """Logits [T, V] for token ids, straight from HF-named tensors (no nn.Module, no cache)."""
    g = {k: torch.from_numpy(v.copy()) for k, v in w.items()}
    C, H = cfg["n_embd"], cfg["n_head"]
    D = C // H
    T = len(ids)
    eps = cfg["layer_norm_epsilon"]

    def ln(x, p):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * g[p + ".weight"] + g[p + ".bias"]

    def gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    x = g["transformer.wte.weight"][torch.tensor(ids)] + g["transformer.wpe.weight"][:T]
    causal = torch.tril(torch.ones(T, T)) > 0
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        qkv = ln(x, p + "ln_1") @ g[p + "attn.c_attn.weight"] + g[p + "attn.c_attn.bias"]
        heads = []
        for h in range(H):
            q = qkv[:, h * D:(h + 1) * D]
            k = qkv[:, C + h * D:C + (h + 1) * D]
            v = qkv[:, 2 * C + h * D:2 * C + (h + 1) * D]
            s = (q @ k.T) / math.sqrt(D)
            s = torch.where(causal, s, torch.tensor(float("-inf")))
            heads.append(torch.softmax(s, dim=-1) @ v)
        x = x + torch.cat(heads, dim=1) @ g[p + "attn.c_proj.weight"] + g[p + "attn.c_proj.bias"]
        hdn = gelu_new(ln(x, p + "ln_2") @ g[p + "mlp.c_fc.weight"] + g[p + "mlp.c_fc.bias"])
        x = x + hdn @ g[p + "mlp.c_proj.weight"] + g[p + "mlp.c_proj.bias"]
    return ln(x, "transformer.ln_f") @ g["transformer.wte.weight"].T


def write_reference(out, tok, cfg, eot_id, model=None):
    """reference.json + reference_logits.f32 from the weights re-read from model.safetensors,
    by ref_forward (independent of the training module); if model is given, cross-checks it."""
    w = read_safetensors(os.path.join(out, "model.safetensors"))
    prompts = ["In the beginning God created", "And the LORD said unto Moses,",
               "For God so loved the world,"]
    refs, first_logits, max_diff = [], None, 0.0
    with torch.no_grad():
        for pi, prompt in enumerate(prompts):
            pids = tok.encode(prompt)
            assert tok.decode(pids) == prompt
            seq, margin = list(pids), float("inf")
            for _ in range(24):
                top2 = torch.topk(ref_forward(w, cfg, seq)[-1], 2)
                margin = min(margin, float(top2.values[0] - top2.values[1]))
                seq.append(int(top2.indices[0]))
            if model is not None:
                full = ref_forward(w, cfg, seq)
                max_diff = max(max_diff, (full - model(torch.tensor([seq]))[0]).abs().max().item())
            if pi == 0:
                first_logits = ref_forward(w, cfg, pids).numpy().astype("<f4")
            refs.append({"prompt": prompt, "prompt_ids": pids, "new_ids": seq[len(pids):],
                         "ids": seq, "continuation": tok.decode(seq[len(pids):]),
                         "text": tok.decode(seq), "greedy_min_top2_margin": round(margin, 4)})
    if model is not None:
        print(f"reference forward vs training model: max |logit diff| {max_diff:.2e}")
        assert max_diff < 1e-3
    lg_path = os.path.join(out, "reference_logits.f32")
    if first_logits.nbytes <= 200 * 1024:
        lg_desc = {"file": "reference_logits.f32", "prompt_index": 0, "positions": "all",
                   "shape": list(first_logits.shape)}
    else:
        first_logits = first_logits[-1:]
        lg_desc = {"file": "reference_logits.f32", "prompt_index": 0, "positions": "last",
                   "shape": list(first_logits.shape)}
    with open(lg_path, "wb") as f:
        f.write(first_logits.tobytes())
    lg_desc.update({"dtype": "float32", "byte_order": "little", "layout": "row-major [T, vocab]",
                    "argmax_per_position": [int(i) for i in first_logits.argmax(-1)],
                    "tolerance_hint": "f32 kernels should match within ~1e-4 absolute"})
    tok_cases = ["Hello, world!", "  two  spaces\n\nand newlines\n",
                 "It's 1611; they'll've said: \"yea\" -- 42 times.", "caf\u00e9 \u00fcber \u4e2d"]
    ref = {
        "model": "models/tiny (GPT-2 architecture, King James Bible)",
        "generated_by": "scripts/train_demo.py",
        "eos_token_id": eot_id,
        "greedy_new_tokens": 24,
        "note": "greedy = argmax of the last position's logits, full recompute each step, "
                "computed by a plain forward of the tensors re-read from model.safetensors; "
                "greedy_min_top2_margin = smallest top1-top2 logit gap over the 24 steps",
        "prompts": refs,
        "logits": lg_desc,
        "tokenizer_cases": [{"text": s, "ids": tok.encode(s)} for s in tok_cases],
    }
    for c in ref["tokenizer_cases"]:
        assert tok.decode(c["ids"]) == c["text"]
    text = json.dumps(ref, indent=2, ensure_ascii=False)
    text = re.sub(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]",  # one line per list of ints
                  lambda m: "[" + ", ".join(m.group(1).replace(",", " ").split()) + "]", text)
    assert json.loads(text) == ref
    with open(os.path.join(out, "reference.json"), "w") as f:
        f.write(text + "\n")
    return refs, lg_desc


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="models/tiny")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--vocab-size", type=int, default=1024)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=96)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-positions", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr", type=float, default=2e-4)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reference-only", action="store_true",
                    help="only rewrite reference.json/reference_logits.f32 from the files in --out")
    args = ap.parse_args()

    if args.reference_only:
        tok = GPT2Tokenizer(os.path.join(args.out, "vocab.json"),
                            os.path.join(args.out, "merges.txt"))
        with open(os.path.join(args.out, "config.json")) as f:
            cfg = json.load(f)
        write_reference(args.out, tok, cfg, tok.encoder[EOT])
        print(f"wrote {args.out}/reference.json")
        return

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    if os.path.exists(blas) and "openblas" not in blas and "blis" not in blas:
        print(f"note: BLAS is {blas}; `apt-get install libopenblas0-serial` makes training ~10x faster")

    # 1. text
    books = extract_kjv()
    texts = [t for _, t in books]
    nchars = sum(len(t) for t in texts)
    print(f"text: {len(books)} books, {nchars} chars")

    # 2. tokenizer
    n_merges = args.vocab_size - 256 - 1
    t0 = time.time()
    merges, train_seg, piece_counts = train_bpe(texts, n_merges)
    assert len(merges) == n_merges, f"only {len(merges)} merges learned"
    vocab = write_tokenizer(args.out, merges)
    tok = GPT2Tokenizer(os.path.join(args.out, "vocab.json"), os.path.join(args.out, "merges.txt"))
    for key, seg in train_seg.items():
        assert tok.bpe(key) == seg, f"encoder disagrees with training on {key!r}"
    eot_id = vocab[EOT]
    ids = []
    for t in texts:
        enc = tok.encode(t)
        assert tok.decode(enc) == t
        ids.extend(enc)
        ids.append(eot_id)
    print(f"tokenizer: vocab {len(vocab)} ({n_merges} merges) in {time.time() - t0:.1f}s; "
          f"{len(piece_counts)} distinct pieces all re-encode identically; "
          f"corpus {len(ids)} tokens ({nchars / len(ids):.2f} chars/token)")

    # split: every 20th block of 4096 tokens is validation
    data = torch.tensor(ids, dtype=torch.long)
    blk = 4096
    nblk = (len(data) + blk - 1) // blk
    tr = torch.cat([data[i * blk:(i + 1) * blk] for i in range(nblk) if i % 20 != 10])
    va = torch.cat([data[i * blk:(i + 1) * blk] for i in range(nblk) if i % 20 == 10])
    print(f"train {len(tr)} tokens, val {len(va)} tokens")

    # 3. model
    V, P, C, L, H = len(vocab), args.n_positions, args.n_embd, args.n_layer, args.n_head
    model = GPT(V, P, C, L, H)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"model: n_layer={L} n_embd={C} n_head={H} n_positions={P} vocab={V}: {nparams} params "
          f"({nparams * 4 / 1e6:.2f} MB f32)")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    gen = torch.Generator().manual_seed(args.seed)
    egen = torch.Generator()

    def batch(src, g):
        ix = torch.randint(len(src) - P - 1, (args.batch,), generator=g)
        x = torch.stack([src[i:i + P] for i in ix])
        y = torch.stack([src[i + 1:i + 1 + P] for i in ix])
        return x, y

    @torch.no_grad()
    def evaluate():
        model.eval()
        out = {}
        for name, src in (("train", tr), ("val", va)):
            egen.manual_seed(args.seed + 1)  # same batches every evaluation
            losses = []
            for _ in range(16):
                x, y = batch(src, egen)
                losses.append(F.cross_entropy(model(x).view(-1, V), y.view(-1)).item())
            out[name] = sum(losses) / len(losses)
        model.train()
        return out

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        r = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * r))

    t0 = time.time()
    history = []
    for step in range(args.steps + 1):
        if step % args.eval_every == 0 or step == args.steps:
            ev = evaluate()
            history.append((step, ev["train"], ev["val"]))
            print(f"step {step:5d}  train {ev['train']:.4f}  val {ev['val']:.4f}  "
                  f"({time.time() - t0:.0f}s)", flush=True)
        if step == args.steps:
            break
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step)
        x, y = batch(tr, gen)
        loss = F.cross_entropy(model(x).view(-1, V), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    train_secs = time.time() - t0
    final = history[-1]
    print(f"trained {args.steps} steps ({args.steps * args.batch * P} tokens) in {train_secs:.0f}s")

    # 4. HF folder
    cfg = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.0,
        "bos_token_id": eot_id,
        "embd_pdrop": 0.0,
        "eos_token_id": eot_id,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
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
        "use_cache": True,
        "vocab_size": V,
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    st_path = os.path.join(args.out, "model.safetensors")
    write_safetensors(st_path, model.hf_state())

    model.eval()
    refs, lg_desc = write_reference(args.out, tok, cfg, eot_id, model)

    # samples
    sgen = torch.Generator().manual_seed(args.seed)

    @torch.no_grad()
    def sample(prompt, n, temperature):
        seq = tok.encode(prompt)
        for _ in range(n):
            logits = model(torch.tensor([seq[-P:]]))[0, -1]
            if temperature == 0:
                nxt = int(torch.argmax(logits))
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = int(torch.multinomial(probs, 1, generator=sgen))
            if nxt == eot_id:
                break
            seq.append(nxt)
        return tok.decode(seq)

    greedy = sample("And God said,", 60, 0.0)
    hot = [sample(p, 100, 0.8) for p in ("And it came to pass", "Blessed are")]
    print("--- greedy ---\n" + greedy + "\n--- temperature 0.8 ---\n" + "\n\n".join(hot))

    # README
    kjv_ver = package_version("bible-kjv-text")
    reader_ver = package_version("bible-kjv")
    sizes = {n: os.path.getsize(os.path.join(args.out, n))
             for n in ("model.safetensors", "vocab.json", "merges.txt", "config.json",
                       "reference.json", "reference_logits.f32")}
    hist = "\n".join(f"| {s} | {a:.4f} | {b:.4f} |" for s, a, b in history)
    r0 = refs[0]
    readme = f"""# tiny — kiln's bundled demo model

A tiny GPT-2 (Hugging Face `GPT2LMHeadModel` layout) trained from scratch by
`scripts/train_demo.py` on the King James Bible, so that the README demo has a real model that
is small enough to commit and produces recognizable text. It is a toy: it has learned KJV
spelling, phrasing and verse structure, not meaning.

## Files
| file | bytes | what |
|---|---|---|
| `config.json` | {sizes['config.json']} | HF GPT-2 config (`model_type` gpt2, `gelu_new`, eps 1e-5) |
| `model.safetensors` | {sizes['model.safetensors']} | F32 weights, HF GPT-2 names; Conv1D weights `[in, out]`; `lm_head` tied to `transformer.wte.weight` (not stored) |
| `vocab.json` | {sizes['vocab.json']} | byte-level BPE vocabulary, GPT-2 `encoder.json` format |
| `merges.txt` | {sizes['merges.txt']} | `#version: 0.2` then {n_merges} merges in priority order (GPT-2 `vocab.bpe` format) |
| `reference.json` | {sizes['reference.json']} | test vectors: prompts, token ids, 24 greedy tokens, tokenizer cases |
| `reference_logits.f32` | {sizes['reference_logits.f32']} | logits of prompt 0, little-endian f32, shape {lg_desc['shape']} row-major |

## Text source and license
* Debian package **`bible-kjv-text` {kjv_ver}** (compressed text of the Authorized King James
  Version, 1611), read with the `bible` program of package `bible-kjv` {reader_ver}
  (`bible -f Gen1:1-Rev22:21`).
* License: the KJV text is in the public domain — `/usr/share/doc/bible-kjv-text/copyright`:
  "The copyright for the King James Version text of the Bible is expired since the translation
  was done in 1611 under King James the first of Great Britain." (The `bible` reader program
  itself is GPL-2+, but only its output text is used; no code of it is in kiln.)
* Preprocessing: one verse per line, references removed, runs of spaces collapsed, `\\n` line
  endings; each of the 66 books is a document, followed by `<|endoftext|>`.
  {nchars} characters, pure ASCII.

## Tokenizer
Byte-level BPE in exactly GPT-2's format, vocabulary **{V}**: ids 0–255 are the 256 byte
tokens written with GPT-2's `bytes_to_unicode` mapping in GPT-2's id order (identical to
GPT-2's first 256 ids; space is `Ġ`, newline `Ċ`), ids 256–{V - 2} are the {n_merges} merges in
rank order, and `<|endoftext|>` is id **{eot_id}** (bos = eos). The pre-tokenizer is GPT-2's regex
`'s|'t|'re|'ve|'m|'ll|'d| ?\\p{{L}}+| ?\\p{{N}}+| ?[^\\s\\p{{L}}\\p{{N}}]+|\\s+(?!\\S)|\\s+`; encoding
is the standard GPT-2 algorithm (merge the lowest-rank adjacent pair until none applies), which
reproduces the training segmentation exactly (checked by the script for every distinct piece).
Corpus: {len(ids)} tokens ({nchars / len(ids):.2f} characters per token).

## Model and training
| | |
|---|---|
| architecture | GPT-2: learned positions, pre-LN, `gelu_new` (tanh), tied lm_head, biases |
| n_layer / n_head / n_embd / n_inner | {L} / {H} / {C} / {4 * C} |
| n_positions (context) | {P} |
| parameters | {nparams} ({nparams * 4} bytes as f32) |
| optimizer | AdamW β=(0.9, 0.95), weight decay {args.weight_decay} on matrices, grad clip 1.0 |
| schedule | {args.steps} steps × batch {args.batch} × {P} tokens; lr {args.lr} warm-up {args.warmup}, cosine to {args.min_lr} |
| data split | every 20th block of 4096 tokens held out: train {len(tr)} / val {len(va)} tokens |
| seed | {args.seed} |
| training time | {train_secs / 60:.1f} min on {args.threads} CPU thread(s), torch {torch.__version__} |
| final loss | train **{final[1]:.4f}**, val **{final[2]:.4f}** (nats/token, 16 batches each) |

| step | train loss | val loss |
|---|---|---|
{hist}

## Samples
Greedy, prompt "And God said,":
```
{greedy}
```
Temperature 0.8 (seed {args.seed}):
```
{hot[0]}
```
```
{hot[1]}
```

Reference (in `reference.json`), greedy 24 tokens from "{r0['prompt']}" (ids {r0['prompt_ids']}):
```
{r0['text']}
```

## Retrain
```
apt-get install bible-kjv bible-kjv-text libopenblas0-serial
/usr/bin/python3 scripts/train_demo.py --out models/tiny
```
Deterministic for a given `--seed` on one thread with the same torch/BLAS; another BLAS may
change the last bits and hence the weights. `--reference-only` rewrites just `reference.json`
and `reference_logits.f32` from the files already in `--out` (seconds, no training).
"""
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(readme)
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"wrote {args.out}: {total} bytes total; took {(time.time() - t_start) / 60:.1f} min")


if __name__ == "__main__":
    main()
