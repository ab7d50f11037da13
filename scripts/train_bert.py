#!/usr/bin/python3
"""Train kiln's tiny BERT: a masked-LM encoder on the King James Bible, with its own WordPiece.

Usage (from the repository root; 15-35 minutes on two CPU threads, depending on the load):

    apt-get install bible-kjv bible-kjv-text      # the text (public domain) + its reader
    apt-get install libopenblas0-serial           # optional but ~10x faster: Debian's torch
                                                  # otherwise uses the reference BLAS
    /usr/bin/python3 scripts/train_bert.py --out models/bert-tiny
    /usr/bin/python3 scripts/train_bert.py --out models/bert-tiny --reference-only  # only step 5

Needs only Debian's python3-torch (1.13) and python3-numpy; nothing is downloaded.

What it does, in order:
  1. Extracts the KJV text exactly as scripts/train_demo.py does (`bible -f Gen1:1-Rev22:21`,
     one verse per line, references removed, runs of spaces collapsed): 66 books, 31102 verses.
  2. Builds an uncased WordPiece vocabulary (BERT's vocab.txt format) with a simple trainer:
       - the corpus is split into words by BERT's BasicTokenizer (lower case, accents stripped,
         split on whitespace, every punctuation character a word of its own);
       - ids 0..4 are [PAD] [UNK] [CLS] [SEP] [MASK];
       - then every character of the corpus, then the same characters as ##c, so that any ASCII
         word can be spelled and [UNK] is only for characters the corpus never had;
       - then the --n-words most frequent words (ties: alphabetical), as whole-word pieces;
       - then the --n-suffixes most frequent ##suffixes: over every occurrence of a word that is
         not a whole-word piece, each of its proper suffixes of 2 to 6 characters is counted once
         (ties: alphabetical).
     Encoding is BERT's: BasicTokenizer, then greedy longest-match-first WordPiece per word
     (continuation pieces prefixed ##; a word longer than 100 characters, or one that cannot be
     spelled, becomes [UNK]). The script's tokenizer is written here in Python (class WordPiece).
  3. Trains a BERT masked LM (Hugging Face BertForMaskedLM architecture and tensor names:
     post-LN, GELU erf, learned positions, 2 token types, LayerNorm eps 1e-12, MLM head
     transform dense + GELU + LayerNorm, decoder tied to the word embeddings plus its own bias;
     no pooler, no dropout) with AdamW, linear warm-up and linear decay. A training example is
     one verse, or (half the time, when the pair fits) two consecutive verses of the same book:
     [CLS] a [SEP] (token type 0) b [SEP] (token type 1), at most --n-positions tokens (a long
     single verse is cut). Standard MLM: each real token other than [CLS]/[SEP] is chosen with
     probability 0.15; a chosen token becomes [MASK] 80% of the time, a random non-special
     token 10%, and stays 10%; the loss is the cross entropy at the chosen positions. Every
     20th verse (index % 20 == 10) is held out for validation.
  4. Writes a Hugging Face BERT folder: config.json, model.safetensors (written by hand, F32,
     torch nn.Linear layout [out, in]; cls.predictions.decoder.weight is tied and not stored),
     vocab.txt, tokenizer_config.json, and training.json (arguments, time, loss history).
     model.xml, kiln's description of the model, is written by hand, not by this script.
  5. Writes kiln's references, computed by an independent plain forward pass in float64 on the
     weights re-read from model.safetensors (results stored as float32):
       inputs.safetensors    tokens, token_types, valid: I32 [3, S], three texts padded to S
       expected.safetensors  logits F32 [3, S, vocab], hidden F32 [3, S, d]
       reference.json        fill-mask cases (text, ids, mask position, top-5 words and
                             probabilities) and tokenizer cases (text -> ids)

Deterministic given --seed (fixed step count, seeded torch generators, 2 threads), as far as
torch/BLAS kernels are deterministic; a different BLAS may change the last bits.
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

# OpenMP threads that spin while waiting collapse on a shared 2-vCPU machine (3x slower steps
# measured with 2 threads under load); sleeping waiters keep 2 threads at least as fast as 1.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn
import torch.nn.functional as F

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD, UNK, CLS, SEP, MASK = range(5)
SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIALS) + ")")

# --------------------------------------------------------------------------------------------
# 1. text (as scripts/train_demo.py)
# --------------------------------------------------------------------------------------------

REF_RE = re.compile(r"^([0-9]?[A-Za-z]+)([0-9]+):([0-9]+) (.*)$")


def package_version(pkg):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def extract_kjv():
    """Returns a list of (book_abbrev, [verses]) in canonical order."""
    try:
        out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], stdin=subprocess.DEVNULL,
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"cannot run `bible` ({e}); install it: apt-get install bible-kjv bible-kjv-text")
    text = out.decode("ascii").replace("\r\n", "\n").replace("\r", "\n")
    books = []
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
    return books


# --------------------------------------------------------------------------------------------
# 2. BERT tokenizer (BasicTokenizer + WordPiece) and the vocabulary trainer
# --------------------------------------------------------------------------------------------

def _is_whitespace(c):
    if c in " \t\n\r":
        return True
    return unicodedata.category(c) == "Zs"


def _is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c) in ("Cc", "Cf")


def _is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or
            0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or
            0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text, lowercase=True):
    """BERT's BasicTokenizer: clean, space around CJK, split on whitespace, lower case and strip
    accents (NFD, drop Mn), split off every punctuation character."""
    cleaned = []
    for c in text:
        cp = ord(c)
        if cp == 0 or cp == 0xFFFD or _is_control(c):
            continue
        if _is_whitespace(c):
            cleaned.append(" ")
        elif _is_cjk(cp):
            cleaned.append(" " + c + " ")
        else:
            cleaned.append(c)
    words = []
    for w in "".join(cleaned).split():
        if lowercase:
            w = "".join(c for c in unicodedata.normalize("NFD", w.lower())
                        if unicodedata.category(c) != "Mn")
        cur = ""
        for c in w:
            if _is_punctuation(c):
                if cur:
                    words.append(cur)
                words.append(c)
                cur = ""
            else:
                cur += c
        if cur:
            words.append(cur)
    return words


class WordPiece:
    def __init__(self, pieces):
        self.pieces = list(pieces)
        self.ids = {p: i for i, p in enumerate(self.pieces)}
        self.cache = {}

    def word(self, w):
        """Greedy longest-match-first, as BERT's WordpieceTokenizer."""
        if w in self.cache:
            return self.cache[w]
        if len(w) > 100:
            return [UNK]
        out, start = [], 0
        while start < len(w):
            end, cur = len(w), None
            while start < end:
                sub = w[start:end] if start == 0 else "##" + w[start:end]
                if sub in self.ids:
                    cur = self.ids[sub]
                    break
                end -= 1
            if cur is None:
                out = [UNK]
                break
            out.append(cur)
            start = end
        self.cache[w] = out
        return out

    def encode(self, text):
        """Token ids without [CLS]/[SEP]. The special tokens written literally in the text (as
        "[MASK]") are kept whole, as Hugging Face's BertTokenizer does."""
        ids = []
        for part in SPECIAL_RE.split(text):
            if part in SPECIALS:
                ids.append(SPECIALS.index(part))
                continue
            for w in basic_tokenize(part):
                ids.extend(self.word(w))
        return ids


def train_vocab(verses, n_words, n_suffixes):
    counts = collections.Counter()
    for v in verses:
        counts.update(basic_tokenize(v))
    chars = sorted({c for w in counts for c in w})
    pieces = SPECIALS + chars + ["##" + c for c in chars]
    have = set(pieces)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    words = [w for w, _ in ranked if w not in have][:n_words]
    pieces += words
    have.update(words)
    suf = collections.Counter()
    for w, n in counts.items():
        if w in have:
            continue
        for k in range(2, min(6, len(w) - 1) + 1):
            suf["##" + w[-k:]] += n
    sufs = [s for s, _ in sorted(suf.items(), key=lambda kv: (-kv[1], kv[0]))
            if s not in have][:n_suffixes]
    pieces += sufs
    return pieces, counts


# --------------------------------------------------------------------------------------------
# 3. model (module tree mirrors the Hugging Face names, so state_dict keys are HF's)
# --------------------------------------------------------------------------------------------

class NS(nn.Module):
    """A named container: attributes become the next component of the tensor names."""

    def __init__(*args, **kw):  # no named `self`: "self" is one of HF's names
        (ns,) = args
        nn.Module.__init__(ns)
        for k, v in kw.items():
            setattr(ns, k, v)


def layer_norm(d):
    return nn.LayerNorm(d, eps=1e-12)


class BertMLM(nn.Module):
    def __init__(self, V, P, T, d, L, H, d_ff):
        super().__init__()
        self.d, self.H = d, H
        self.bert = NS(
            embeddings=NS(word_embeddings=nn.Embedding(V, d),
                          position_embeddings=nn.Embedding(P, d),
                          token_type_embeddings=nn.Embedding(T, d),
                          LayerNorm=layer_norm(d)),
            encoder=NS(layer=nn.ModuleList([NS(
                attention=NS(self=NS(query=nn.Linear(d, d), key=nn.Linear(d, d),
                                     value=nn.Linear(d, d)),
                             output=NS(dense=nn.Linear(d, d), LayerNorm=layer_norm(d))),
                intermediate=NS(dense=nn.Linear(d, d_ff)),
                output=NS(dense=nn.Linear(d_ff, d), LayerNorm=layer_norm(d)))
                for _ in range(L)])))
        self.cls = NS(predictions=NS(transform=NS(dense=nn.Linear(d, d), LayerNorm=layer_norm(d))))
        self.cls.predictions.bias = nn.Parameter(torch.zeros(V))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear):
                    nn.init.zeros_(m.bias)

    def encode(self, tokens, types, valid):
        """tokens, types, valid: (B, S) -> hidden (B, S, d)."""
        e = self.bert.embeddings
        B, S = tokens.shape
        pos = torch.arange(S)
        x = e.word_embeddings(tokens) + e.token_type_embeddings(types) + e.position_embeddings(pos)
        x = e.LayerNorm(x)
        bias = (1.0 - valid.to(x.dtype))[:, None, None, :] * -1e9   # (B, 1, 1, S)
        hd = self.d // self.H
        for lyr in self.bert.encoder.layer:
            a = lyr.attention
            q = a.self.query(x).view(B, S, self.H, hd).transpose(1, 2)   # (B, H, S, hd)
            k = a.self.key(x).view(B, S, self.H, hd).transpose(1, 2)
            v = a.self.value(x).view(B, S, self.H, hd).transpose(1, 2)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1)
            ctx = (att @ v).transpose(1, 2).reshape(B, S, self.d)
            x = a.output.LayerNorm(x + a.output.dense(ctx))
            h = F.gelu(lyr.intermediate.dense(x))
            x = lyr.output.LayerNorm(x + lyr.output.dense(h))
        return x

    def head(self, h):
        """h (..., d) -> logits (..., V); decoder tied to the word embeddings."""
        p = self.cls.predictions
        t = p.transform.LayerNorm(F.gelu(p.transform.dense(h)))
        return F.linear(t, self.bert.embeddings.word_embeddings.weight) + p.bias


# --------------------------------------------------------------------------------------------
# 4. safetensors
# --------------------------------------------------------------------------------------------

def write_safetensors(path, tensors, dtype="F32"):
    np_dtype = {"F32": "<f4", "I32": "<i4"}[dtype]
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype=np_dtype).tobytes()
        header[name] = {"dtype": dtype, "shape": list(np.shape(arr)),
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
# 5. independent reference forward: plain float64 ops on the HF tensors
# --------------------------------------------------------------------------------------------

def ref_forward(w, cfg, tokens, types, valid):
    """tokens, types, valid: int arrays (B, S). Returns (logits (B, S, V), hidden (B, S, d)),
    float64. Padded keys get probability exactly 0; padded query rows are computed anyway."""
    W = {k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in w.items()}
    d, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    eps = cfg["layer_norm_eps"]
    hd = d // H
    tok = torch.from_numpy(np.asarray(tokens, dtype=np.int64))
    typ = torch.from_numpy(np.asarray(types, dtype=np.int64))
    ok = torch.from_numpy(np.asarray(valid, dtype=np.int64)) != 0
    B, S = tok.shape

    def ln(x, p):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * W[p + ".weight"] + W[p + ".bias"]

    def lin(x, p):
        return x @ W[p + ".weight"].T + W[p + ".bias"]

    def gelu(x):
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))

    e = "bert.embeddings."
    x = (W[e + "word_embeddings.weight"][tok] + W[e + "token_type_embeddings.weight"][typ] +
         W[e + "position_embeddings.weight"][torch.arange(S)])
    x = ln(x, e + "LayerNorm")
    for i in range(L):
        p = f"bert.encoder.layer.{i}."
        q = lin(x, p + "attention.self.query").view(B, S, H, hd).permute(0, 2, 1, 3)
        k = lin(x, p + "attention.self.key").view(B, S, H, hd).permute(0, 2, 1, 3)
        v = lin(x, p + "attention.self.value").view(B, S, H, hd).permute(0, 2, 1, 3)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)                      # (B, H, S, S)
        s = s.masked_fill(~ok[:, None, None, :], float("-inf"))
        ctx = (torch.softmax(s, dim=-1) @ v).permute(0, 2, 1, 3).reshape(B, S, d)
        x = ln(x + lin(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        h = gelu(lin(x, p + "intermediate.dense"))
        x = ln(x + lin(h, p + "output.dense"), p + "output.LayerNorm")
    t = ln(gelu(lin(x, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
    logits = t @ W[e + "word_embeddings.weight"].T + W["cls.predictions.bias"]
    return logits, x


FILL_MASK = [
    "In the beginning God created the heaven and the [MASK].",
    "And God said, Let there be [MASK]: and there was light.",
    "And God [MASK] the light, that it was good.",
    "And the LORD spake unto [MASK], saying,",
    "Honour thy father and thy [MASK].",
    "Thou shalt love thy neighbour as [MASK].",
    "For God so loved the [MASK], that he gave his only begotten Son.",
    "And it came to [MASK], when the king heard these words.",
    "The LORD is my shepherd; I shall not [MASK].",
    "And the children of [MASK] went out of Egypt.",
]

TOKENIZER_CASES = [
    "In the beginning God created the heaven and the earth.",
    "And God said, Let there be light: and there was light.",
    "HONOUR THY FATHER AND THY MOTHER!",
    "Jesus wept.",
    "kiln compiles transformers ahead of time",
    "The 12 tribes, 144000 sealed (Rev7:4)... amen?",
    "e-mail: moses@sinai.example -- \"quoted\" & 'single'",
    "  leading and   trailing\tspaces\n and lines  ",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m",
    "\u4e2d\u6587 and \u65e5\u672c\u8a9e mixed",
    "unbelievingly righteousnesses abominations",
    "zzzzqqqq xylophone",
    "antidisestablishmentarianism" * 4,
    "emoji \U0001F600 and \u00bfqu\u00e9?",
]

# the three inputs of inputs.safetensors / expected.safetensors: (text a, text b or None)
REF_INPUTS = [
    ("In the beginning God created the heaven and the earth.", None),
    ("And God said, Let there be light: and there was light.",
     "And God saw the light, that it was good."),
    ("Jesus wept.", None),
]


def pair_ids(tok, a, b):
    ia = tok.encode(a)
    ids, types = [CLS] + ia + [SEP], [0] * (len(ia) + 2)
    if b is not None:
        ib = tok.encode(b)
        ids += ib + [SEP]
        types += [1] * (len(ib) + 1)
    return ids, types


def write_reference(out, tok, cfg):
    w = read_safetensors(os.path.join(out, "model.safetensors"))
    V = cfg["vocab_size"]
    # inputs / expected
    rows = [pair_ids(tok, a, b) for a, b in REF_INPUTS]
    S = max(len(r[0]) for r in rows)
    assert S <= cfg["max_position_embeddings"]
    tokens = np.zeros((len(rows), S), np.int32)
    types = np.zeros((len(rows), S), np.int32)
    valid = np.zeros((len(rows), S), np.int32)
    for i, (ids, tt) in enumerate(rows):
        tokens[i, :len(ids)] = ids
        types[i, :len(ids)] = tt
        valid[i, :len(ids)] = 1
    logits, hidden = ref_forward(w, cfg, tokens, types, valid)
    write_safetensors(os.path.join(out, "inputs.safetensors"),
                      {"tokens": tokens, "token_types": types, "valid": valid}, dtype="I32")
    write_safetensors(os.path.join(out, "expected.safetensors"),
                      {"logits": logits.numpy().astype(np.float32),
                       "hidden": hidden.numpy().astype(np.float32)})
    # fill-mask
    fills = []
    for text in FILL_MASK:
        ids, tt = pair_ids(tok, text, None)
        assert ids.count(MASK) == 1, text
        pos = ids.index(MASK)
        lg, _ = ref_forward(w, cfg, [ids], [tt], [[1] * len(ids)])
        p = torch.softmax(lg[0, pos], dim=-1)
        top = torch.topk(p, 5)
        fills.append({"text": text, "ids": ids, "mask_pos": pos,
                      "top5": [[tok.pieces[int(i)], round(float(v), 6)]
                               for v, i in zip(top.values, top.indices)]})
    cases = [{"text": t, "ids": tok.encode(t)} for t in TOKENIZER_CASES]
    ref = {
        "about": "written by scripts/train_bert.py from model.safetensors and vocab.txt: "
                 "fill-mask top-5 (softmax of the float64 reference logits at the [MASK] "
                 "position, no token types: all 0, no padding) and tokenizer cases "
                 "(ids without [CLS]/[SEP])",
        "vocab_size": V,
        "fill_mask": fills,
        "tokenizer": cases,
    }
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    return ref, S


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------

def read_vocab(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="models/bert-tiny")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--n-words", type=int, default=2300)
    ap.add_argument("--n-suffixes", type=int, default=600)
    ap.add_argument("--n-layer", type=int, default=3)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--d-ff", type=int, default=512)
    ap.add_argument("--n-positions", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reference-only", action="store_true",
                    help="only rewrite the references (step 5) from the files in --out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    if args.reference_only:
        tok = WordPiece(read_vocab(os.path.join(args.out, "vocab.txt")))
        with open(os.path.join(args.out, "config.json")) as f:
            cfg = json.load(f)
        ref, S = write_reference(args.out, tok, cfg)
        for fm in ref["fill_mask"]:
            print(f"{fm['text']}\n    " +
                  ", ".join(f"{wd} {p:.4f}" for wd, p in fm["top5"]))
        print(f"wrote references (S = {S}) in {args.out}")
        return

    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    if os.path.exists(blas) and "openblas" not in blas and "blis" not in blas:
        print(f"note: BLAS is {blas}; `apt-get install libopenblas0-serial` makes training ~10x faster")

    # 1. text
    books = extract_kjv()
    verses, book_of = [], []
    for bi, (_, vs) in enumerate(books):
        verses += vs
        book_of += [bi] * len(vs)
    print(f"text: {len(books)} books, {len(verses)} verses, "
          f"{sum(len(v) for v in verses)} chars", flush=True)

    # 2. vocabulary
    t0 = time.time()
    pieces, counts = train_vocab(verses, args.n_words, args.n_suffixes)
    tok = WordPiece(pieces)
    with open(os.path.join(args.out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(p + "\n" for p in pieces))
    enc = [tok.encode(v) for v in verses]
    ntok = sum(len(e) for e in enc)
    nunk = sum(e.count(UNK) for e in enc)
    nwords = sum(counts.values())
    print(f"vocab: {len(pieces)} pieces ({len(counts)} distinct words in the corpus) in "
          f"{time.time() - t0:.1f}s; corpus {nwords} words -> {ntok} tokens "
          f"({ntok / nwords:.3f} per word), {nunk} [UNK]", flush=True)

    # examples: verse i alone, or verses i, i+1 of the same book as a pair
    P = args.n_positions
    train_ix = [i for i in range(len(verses)) if i % 20 != 10]
    val_ix = [i for i in range(len(verses)) if i % 20 == 10]

    def example(i, pair):
        a = enc[i]
        if pair and i + 1 < len(verses) and book_of[i + 1] == book_of[i] and \
                len(a) + len(enc[i + 1]) + 3 <= P and (i + 1) % 20 != 10:
            b = enc[i + 1]
            return [CLS] + a + [SEP] + b + [SEP], [0] * (len(a) + 2) + [1] * (len(b) + 1)
        a = a[:P - 2]
        return [CLS] + a + [SEP], [0] * (len(a) + 2)

    def make_batch(ix, pair_flags, g):
        exs = [example(i, p) for i, p in zip(ix, pair_flags)]
        S = max(len(e[0]) for e in exs)
        B = len(exs)
        tokens = torch.zeros(B, S, dtype=torch.long)
        types = torch.zeros(B, S, dtype=torch.long)
        valid = torch.zeros(B, S, dtype=torch.long)
        for r, (ids, tt) in enumerate(exs):
            tokens[r, :len(ids)] = torch.tensor(ids)
            types[r, :len(ids)] = torch.tensor(tt)
            valid[r, :len(ids)] = 1
        maskable = (valid == 1) & (tokens != CLS) & (tokens != SEP)
        chosen = (torch.rand(B, S, generator=g) < 0.15) & maskable
        u = torch.rand(B, S, generator=g)
        rnd = torch.randint(len(SPECIALS), len(pieces), (B, S), generator=g)
        inp = tokens.clone()
        inp[chosen & (u < 0.8)] = MASK
        sel = chosen & (u >= 0.8) & (u < 0.9)
        inp[sel] = rnd[sel]
        return inp, types, valid, chosen, tokens[chosen]

    # 3. model
    V = len(pieces)
    model = BertMLM(V, P, 2, args.d, args.n_layer, args.n_head, args.d_ff)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"model: layers={args.n_layer} d={args.d} heads={args.n_head} d_ff={args.d_ff} "
          f"positions={P} vocab={V}: {nparams} params ({nparams * 4 / 1e6:.2f} MB f32)", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    gen = torch.Generator().manual_seed(args.seed)

    def loss_of(batch):
        inp, types, valid, chosen, target = batch
        h = model.encode(inp, types, valid)
        logits = model.head(h[chosen])                     # only the chosen positions
        return F.cross_entropy(logits, target), (logits.argmax(-1) == target).float().mean()

    # fixed validation batches (same verses, pairs and masks at every evaluation)
    vgen = torch.Generator().manual_seed(args.seed + 1)
    val_batches = []
    for s in range(0, len(val_ix), 128):
        ix = val_ix[s:s + 128]
        val_batches.append(make_batch(ix, (torch.rand(len(ix), generator=vgen) < 0.5).tolist(),
                                      vgen))

    @torch.no_grad()
    def evaluate():
        model.eval()
        tl = ta = tn = 0.0
        for b in val_batches:
            n = int(b[3].sum())
            lo, acc = loss_of(b)
            tl += float(lo) * n
            ta += float(acc) * n
            tn += n
        model.train()
        return tl / tn, ta / tn

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        return args.lr * max(0.0, (args.steps - step) / (args.steps - args.warmup))

    t0 = time.time()
    history, run = [], []
    for step in range(args.steps + 1):
        if step % args.eval_every == 0 or step == args.steps:
            vl, va = evaluate()
            tl = sum(run) / len(run) if run else float("nan")
            history.append((step, tl, vl, va))
            print(f"step {step:5d}  train {tl:.4f}  val {vl:.4f}  val acc {va:.3f}  "
                  f"({time.time() - t0:.0f}s)", flush=True)
            run = []
        if step == args.steps:
            break
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step)
        pick = torch.randint(len(train_ix), (args.batch,), generator=gen).tolist()
        pair = (torch.rand(args.batch, generator=gen) < 0.5).tolist()
        loss, _ = loss_of(make_batch([train_ix[i] for i in pick], pair, gen))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        run.append(float(loss))
    train_secs = time.time() - t0
    print(f"trained {args.steps} steps in {train_secs:.0f}s", flush=True)

    # 4. HF folder
    cfg = {
        "architectures": ["BertForMaskedLM"],
        "attention_probs_dropout_prob": 0.0,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "hidden_size": args.d,
        "initializer_range": 0.02,
        "intermediate_size": args.d_ff,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": P,
        "model_type": "bert",
        "num_attention_heads": args.n_head,
        "num_hidden_layers": args.n_layer,
        "pad_token_id": PAD,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": V,
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": P, "tokenizer_class": "BertTokenizer",
                   "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                   "mask_token": "[MASK]", "unk_token": "[UNK]", "strip_accents": None,
                   "tokenize_chinese_chars": True}, f, indent=2)
        f.write("\n")
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(args.out, "model.safetensors"), state)
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"args": vars(args), "params": nparams, "train_seconds": round(train_secs, 1),
                   "torch": torch.__version__, "blas": blas,
                   "bible-kjv-text": package_version("bible-kjv-text"),
                   "vocab": len(pieces), "corpus_words": nwords, "corpus_tokens": ntok,
                   "history": [{"step": s, "train_loss": round(a, 4), "val_loss": round(b, 4),
                                "val_acc": round(c, 4)} for s, a, b, c in history]}, f, indent=1)
        f.write("\n")

    # 5. references; check the training module agrees with the independent forward pass
    ref, S = write_reference(args.out, tok, cfg)
    with torch.no_grad():
        ids, tt = pair_ids(tok, FILL_MASK[0], None)
        one = lambda a: torch.tensor([a])  # noqa: E731
        h = model.encode(one(ids), one(tt), one([1] * len(ids)))
        mine = model.head(h)[0].double()
    lg, _ = ref_forward(read_safetensors(os.path.join(args.out, "model.safetensors")), cfg,
                        [ids], [tt], [[1] * len(ids)])
    print(f"training module vs reference forward: max |logit diff| "
          f"{float((mine - lg[0]).abs().max()):.2e}")
    for fm in ref["fill_mask"]:
        print(f"{fm['text']}\n    " + ", ".join(f"{wd} {p:.4f}" for wd, p in fm["top5"]))
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
