#!/usr/bin/env python3
"""Re-score PyTorch's decoded answers (models/seq2seq-numbers/reference.json) with kiln's
interpreter. Standard library only.

    test_decode.py KILN MODEL_DIR

reference.json holds, for held-out numbers, the answers of the greedy and beam decoders of
scripts/train_seq2seq.py (PyTorch, float64). Each answer y_1..y_L is fed teacher-forced to
`kiln run model.xml` (tokens = bos y_1 .. y_{L-1}, every case of one decoder in one batch), and
from the interpreter's logits:

  - greedy: each y_t must be the argmax of step t (within 1e-4 of the top logit: float32
    against float64), and sum_t log_softmax(y_t) must match the recorded sum_logprob;
  - beam N, alpha (`beam`, and `beam_bounded_stop` when present): sum_t log_softmax(y_t) /
    L**alpha must match the recorded score.
The ids must also spell the recorded text through vocab.txt, and the source ids the source.
This checks the answers and their scores, not the search itself (kiln's --beam must find the
same answers: reference.json is its golden output). Exit status 0 pass, 1 fail.
"""

import json
import math
import os
import subprocess
import sys
import shutil
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
import safetensors_io as st  # noqa: E402

SCORE_TOL = 5e-5        # |kiln - PyTorch| on a log-probability sum (float32 vs float64; measured 2e-6)
TIE_TOL = 1e-4          # a greedy pick within this of the top logit is accepted


def read_vocab(path):
    with open(path, encoding="utf-8") as f:
        syms = [line.rstrip("\n") for line in f]
    return [" " if s == "<space>" else s for s in syms]


def spell(ids, syms, eos):
    out = []
    for i in ids:
        if i == eos:
            break
        out.append(syms[i] if i > eos else "")
    return "".join(out)


def log_softmax_at(row, k):
    m = max(row)
    return row[k] - m - math.log(sum(math.exp(x - m) for x in row))


CHUNK = 20              # answers per kiln run (the model's batch bound is 32)


def run_batch(kiln, model, ref, answers, tmp, tag):
    """answers: list of (source ids, answer ids). Returns per answer the list of logit rows of
    its L steps."""
    rows = []
    for k in range(0, len(answers), CHUNK):
        rows += run_chunk(kiln, model, ref, answers[k:k + CHUNK], tmp, "%s-%d" % (tag, k))
    return rows


def run_chunk(kiln, model, ref, answers, tmp, tag):
    pad, bos = ref["pad"], ref["bos"]
    S = max(len(s) for s, _ in answers)
    T = max(len(a) for _, a in answers)
    src, valid, tgt = [], [], []
    for s, a in answers:
        src += s + [pad] * (S - len(s))
        valid += [1] * len(s) + [0] * (S - len(s))
        t = [bos] + a[:-1]
        tgt += t + [pad] * (T - len(t))
    B = len(answers)
    inputs = os.path.join(tmp, tag + "-in.safetensors")
    out = os.path.join(tmp, tag + "-out.safetensors")
    st.write(inputs, [("src", "I32", [B, S], st.from_list("I32", src)),
                      ("src_valid", "I32", [B, S], st.from_list("I32", valid)),
                      ("tokens", "I32", [B, T], st.from_list("I32", tgt))])
    cmd = [kiln, "run", model, "--inputs", inputs, "--dump", out]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        print("$ " + " ".join(cmd))
        print(p.stdout.decode("utf-8", "replace"))
        raise SystemExit("FAIL: kiln run exited with status %d" % p.returncode)
    dtype, shape, raw = st.read(out)["logits"]
    V = shape[2]
    flat = st.to_list(dtype, raw)
    rows = []
    for b, (_, a) in enumerate(answers):
        rows.append([flat[(b * T + t) * V:(b * T + t + 1) * V] for t in range(len(a))])
    return rows


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: test_decode.py KILN MODEL_DIR\n")
        return 2
    kiln, folder = argv
    model = os.path.join(folder, "model.xml")
    with open(os.path.join(folder, "reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    syms = read_vocab(os.path.join(folder, "vocab.txt"))
    eos = ref["eos"]
    cases = ref["cases"]
    fails = 0

    def fail(msg):
        nonlocal fails
        fails += 1
        print("FAIL: " + msg)

    # the texts and ids agree through vocab.txt
    for c in cases:
        if spell(c["source_ids"], syms, eos) != c["source"] or c["source_ids"][-1] != eos:
            fail("source %r: ids %r" % (c["source"], c["source_ids"]))
        for name, a in [("greedy", c["greedy"])] + [("beam %d/%g" % (b["n"], b["alpha"]), b) for b in c["beam"]]:
            if spell(a["ids"], syms, eos) != a["text"]:
                fail("source %r, %s: ids spell %r, not %r" % (c["source"], name, spell(a["ids"], syms, eos), a["text"]))

    tmp = tempfile.mkdtemp(prefix="kiln-s2s-")
    try:
        # greedy
        rows = run_batch(kiln, model, ref, [(c["source_ids"], c["greedy"]["ids"]) for c in cases], tmp, "greedy")
        worst = 0.0
        for c, r in zip(cases, rows):
            ids = c["greedy"]["ids"]
            total = 0.0
            for t, y in enumerate(ids):
                if r[t][y] < max(r[t]) - TIE_TOL:
                    fail("source %r, greedy step %d: picked %d (logit %.6f), kiln's top is %d (%.6f)"
                         % (c["source"], t, y, r[t][y], r[t].index(max(r[t])), max(r[t])))
                    break
                total += log_softmax_at(r[t], y)
            d = abs(total - c["greedy"]["sum_logprob"])
            worst = max(worst, d)
            if d > SCORE_TOL:
                fail("source %r, greedy: sum of log-probabilities %.6f, PyTorch %.6f"
                     % (c["source"], total, c["greedy"]["sum_logprob"]))
        print("greedy: %d answers, max |score diff| %.2e" % (len(cases), worst))

        # beam: one batch per decoder and (N, alpha)
        for key in ("beam", "beam_bounded_stop"):
            configs = sorted({(b["n"], b["alpha"]) for c in cases for b in c.get(key, [])})
            for n, alpha in configs:
                picked = [(c, next(b for b in c[key] if b["n"] == n and b["alpha"] == alpha)) for c in cases]
                rows = run_batch(kiln, model, ref, [(c["source_ids"], b["ids"]) for c, b in picked], tmp,
                                 "%s%d-%g" % (key, n, alpha))
                worst = 0.0
                for (c, b), r in zip(picked, rows):
                    total = sum(log_softmax_at(r[t], y) for t, y in enumerate(b["ids"]))
                    score = total / (len(b["ids"]) ** alpha)
                    d = abs(score - b["score"])
                    worst = max(worst, d)
                    if d > SCORE_TOL:
                        fail("source %r, %s %d alpha %g: normalized score %.6f, PyTorch %.6f"
                             % (c["source"], key, n, alpha, score, b["score"]))
                print("%s %d alpha %g: %d answers, max |score diff| %.2e" % (key, n, alpha, len(picked), worst))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    held = [c for c in cases if c["target"] is not None]
    exact = sum(c["greedy"]["text"] == c["target"] for c in held)
    print("greedy answers equal to the target: %d of %d (the model's accuracy, not checked)" % (exact, len(held)))
    if fails:
        print("%d failures" % fails)
        return 1
    print("ALL PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
