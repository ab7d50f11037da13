#!/usr/bin/env python3
"""test_fill_mask.py KILN MODEL_DIR — fill-mask with kiln's reference interpreter on bert-tiny.

MODEL_DIR (models/bert-tiny) holds model.xml and reference.json, whose fill_mask cases were
written by scripts/train_bert.py from its own float64 forward pass of the same weights (never
by kiln): for each KJV-style sentence with one [MASK], the ids ([CLS] ... [SEP]), the mask
position and the top-5 (word, probability) of the softmax of the logits there.

The cases go to `kiln run model.xml --inputs IN --dump OUT` as batches of up to 8 rows (the
model's batch bound), each row padded with valid = 0 to the longest of its batch, token types
all 0. The softmax of each row's logits at its mask position (computed here, standard library
only) must give the same top-5 words in the same order, every probability within 1e-4.
Exit status: 0 pass, 1 fail."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
import safetensors_io as st  # noqa: E402

TOL = 1e-4
BATCH = 8


def main(kiln, model_dir):
    with open(os.path.join(model_dir, "reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    with open(os.path.join(model_dir, "vocab.txt"), encoding="utf-8") as f:
        pieces = [line.rstrip("\n") for line in f]
    cases = ref["fill_mask"]
    if len(cases) < 6:
        print("FAIL: reference.json has %d fill-mask cases, expected at least 6" % len(cases))
        return 1
    failures = 0
    tmp = tempfile.mkdtemp(prefix="kiln-bert-")
    try:
        for b0 in range(0, len(cases), BATCH):
            group = cases[b0:b0 + BATCH]
            S = max(len(c["ids"]) for c in group)
            tokens, valid = [], []
            for c in group:
                pad = S - len(c["ids"])
                tokens += c["ids"] + [0] * pad
                valid += [1] * len(c["ids"]) + [0] * pad
            shape = [len(group), S]
            ins = os.path.join(tmp, "in.safetensors")
            out = os.path.join(tmp, "out.safetensors")
            st.write(ins, [("tokens", "I32", shape, st.from_list("I32", tokens)),
                           ("token_types", "I32", shape, st.from_list("I32", [0] * len(tokens))),
                           ("valid", "I32", shape, st.from_list("I32", valid))])
            cmd = [kiln, "run", os.path.join(model_dir, "model.xml"), "--inputs", ins, "--dump", out]
            print("$ " + " ".join(cmd), flush=True)
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if p.returncode != 0:
                print(p.stdout.decode("utf-8", "replace"))
                print("FAIL: kiln exited with status %d" % p.returncode)
                return 1
            dtype, lshape, raw = st.read(out)["logits"]
            V = len(pieces)
            if dtype != "F32" or lshape != [len(group), S, V]:
                print("FAIL: logits are %s %r, expected F32 %r" % (dtype, lshape, [len(group), S, V]))
                return 1
            logits = st.to_list(dtype, raw)
            for r, c in enumerate(group):
                at = (r * S + c["mask_pos"]) * V
                row = logits[at:at + V]
                m = max(row)
                e = [math.exp(x - m) for x in row]
                z = sum(e)
                probs = [x / z for x in e]
                top = sorted(range(V), key=lambda i: -probs[i])[:5]
                got = [(pieces[i], probs[i]) for i in top]
                want = c["top5"]
                ok = [g[0] for g in got] == [w[0] for w in want] and \
                    all(abs(g[1] - w[1]) <= TOL for g, w in zip(got, want))
                print("%s: %s\n    kiln:      %s\n    reference: %s" % (
                    "ok" if ok else "FAIL", c["text"],
                    ", ".join("%s %.6f" % g for g in got),
                    ", ".join("%s %.6f" % tuple(w) for w in want)))
                failures += not ok
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d of %d fill-mask cases differ" % (failures, len(cases)))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: test_fill_mask.py KILN MODEL_DIR\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
