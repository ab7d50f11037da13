#!/usr/bin/env python3
"""Run one tests/ref case through kiln's reference interpreter and compare with PyTorch's outputs.

Standard library only (CI has no numpy/torch). Used by tests/ref/meson.build:

    run_case.py KILN CASE_DIR MODE [--split] [--prefill K] [--needs-shared DIR]

CASE_DIR holds model.xml, inputs.safetensors and expected.safetensors (tests/ref/README.md).
MODE is one of:

  dump    kiln run model.xml --inputs inputs.safetensors --dump OUT, then compare.py
          expected.safetensors OUT (every graph of the model, in order).
  tokens  the incremental (KV-cache) path: kiln run model.xml --tokens t0,t1,... --prefill K
          --logits OUT.f32 with the ids of the `tokens` input (batch of one); OUT.f32 holds
          raw float32 (positions x vocab) and must match expected `logits` [1, T, V].
  kir     kiln compile model.xml --emit=ir -o x.kir; kiln compile x.kir --emit=ir -o y.kir;
          x.kir and y.kir must be byte-identical (print -> parse -> print), and running x.kir
          as in `dump` must match the expected outputs.

--split: the inputs file holds several independent runs, inputs NAME_k for k = 0, 1, ...
(the makemore cases: tokens_k -> logits_k). Each k is run separately (a fresh kiln process, so
fresh KV caches) from a file whose tensors are renamed NAME_k -> NAME; every output NAME of run
k is renamed NAME_k, and all of them are compared with expected.safetensors at once.

--needs-shared DIR: the case reads weights from $KILN_SHARED/DIR (../shared beside the
repository); when that folder is absent the test prints "skipped: ../shared/DIR not found" and
exits 77 (meson's skip code).

Temporary files go to a fresh directory that is removed afterwards. Exit status: 0 pass,
1 fail, 77 skipped, 2 usage error.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io as st  # noqa: E402

COMPARE = os.path.join(HERE, "compare.py")


class Fail(Exception):
    """The case fails; the message says why."""


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode("utf-8", "replace")
    if out:
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
    sys.stdout.flush()
    if p.returncode != 0:
        prog = cmd[1] if cmd[0] == sys.executable else cmd[0]
        raise Fail("%s exited with status %d" % (os.path.basename(prog), p.returncode))


def compare(expected, actual, only=None):
    cmd = [sys.executable, COMPARE, expected, actual]
    for name in only or []:
        cmd += ["--only", name]
    run(cmd)


def read_st(path):
    try:
        return st.read(path)
    except (OSError, st.SafetensorsError) as e:
        raise Fail("cannot read %s: %s" % (path, e))


def write_st(path, tensors):
    """tensors: dict name -> (dtype, shape, raw), as safetensors_io.read returns."""
    st.write(path, [(n, t[0], t[1], t[2]) for n, t in tensors.items()])


def kiln_dump(kiln, model, inputs, tmp, split):
    """Runs every graph of model on inputs; returns the path of the safetensors with all outputs
    (with --split, one kiln run per suffix k, outputs renamed NAME_k)."""
    out = os.path.join(tmp, "out.safetensors")
    if not split:
        run([kiln, "run", model, "--inputs", inputs, "--dump", out])
        return out
    groups = {}
    for name, t in read_st(inputs).items():
        m = re.match(r"^(.*)_(\d+)$", name)
        if not m:
            raise Fail("--split: input %r of %s has no _k suffix" % (name, inputs))
        groups.setdefault(int(m.group(2)), {})[m.group(1)] = t
    merged = {}
    for k in sorted(groups):
        ins = os.path.join(tmp, "inputs_%d.safetensors" % k)
        outs = os.path.join(tmp, "out_%d.safetensors" % k)
        write_st(ins, groups[k])
        run([kiln, "run", model, "--inputs", ins, "--dump", outs])
        for name, t in read_st(outs).items():
            merged["%s_%d" % (name, k)] = t
    write_st(out, merged)
    return out


def mode_dump(args, tmp):
    out = kiln_dump(args.kiln, os.path.join(args.case, "model.xml"),
                    os.path.join(args.case, "inputs.safetensors"), tmp, args.split)
    compare(os.path.join(args.case, "expected.safetensors"), out)


def mode_tokens(args, tmp):
    inputs = read_st(os.path.join(args.case, "inputs.safetensors"))
    expected_path = os.path.join(args.case, "expected.safetensors")
    expected = read_st(expected_path)
    if "tokens" not in inputs or "logits" not in expected:
        raise Fail("tokens mode needs an input `tokens` and an expected `logits`")
    dtype, shape, raw = inputs["tokens"]
    if dtype != "I32" or len(shape) != 2 or shape[0] != 1:
        raise Fail("tokens mode needs `tokens` I32 [1, T], not %s %r" % (dtype, shape))
    ids = st.to_list(dtype, raw)
    eshape = expected["logits"][1]
    if len(eshape) != 3 or eshape[0] != 1 or eshape[1] != len(ids):
        raise Fail("expected `logits` has shape %r, not [1, %d, V]" % (eshape, len(ids)))
    f32 = os.path.join(tmp, "logits.f32")
    run([args.kiln, "run", os.path.join(args.case, "model.xml"), "--tokens", ",".join(str(i) for i in ids),
         "--prefill", str(args.prefill), "--logits", f32])
    with open(f32, "rb") as f:
        data = f.read()
    want = eshape[1] * eshape[2] * 4
    if len(data) != want:
        raise Fail("%s holds %d bytes, expected %d (%d positions x %d logits x 4)"
                   % (f32, len(data), want, eshape[1], eshape[2]))
    out = os.path.join(tmp, "out.safetensors")
    write_st(out, {"logits": ("F32", list(eshape), data)})
    compare(expected_path, out, only=["logits"])


def mode_kir(args, tmp):
    x = os.path.join(tmp, "x.kir")
    y = os.path.join(tmp, "y.kir")
    run([args.kiln, "compile", os.path.join(args.case, "model.xml"), "--emit=ir", "-o", x])
    run([args.kiln, "compile", x, "--emit=ir", "-o", y])
    with open(x, "rb") as f:
        xb = f.read()
    with open(y, "rb") as f:
        yb = f.read()
    if xb != yb:
        xl, yl = xb.split(b"\n"), yb.split(b"\n")
        for i in range(max(len(xl), len(yl))):
            a = xl[i] if i < len(xl) else b"<end of file>"
            b = yl[i] if i < len(yl) else b"<end of file>"
            if a != b:
                raise Fail("x.kir and y.kir differ first at line %d:\n  x: %s\n  y: %s"
                           % (i + 1, a.decode("utf-8", "replace"), b.decode("utf-8", "replace")))
    print("x.kir and y.kir are byte-identical (%d bytes)" % len(xb))
    out = kiln_dump(args.kiln, x, os.path.join(args.case, "inputs.safetensors"), tmp, args.split)
    compare(os.path.join(args.case, "expected.safetensors"), out)


def main(argv):
    ap = argparse.ArgumentParser(description="Run a tests/ref case with kiln and compare with PyTorch.")
    ap.add_argument("kiln", help="the kiln executable")
    ap.add_argument("case", help="the case folder (tests/ref/CASE)")
    ap.add_argument("mode", choices=["dump", "tokens", "kir"])
    ap.add_argument("--split", action="store_true", help="inputs NAME_k are separate runs (outputs NAME_k)")
    ap.add_argument("--prefill", type=int, default=5, help="tokens mode: tokens fed in the first run")
    ap.add_argument("--needs-shared", metavar="DIR", help="skip unless $KILN_SHARED/DIR exists")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0

    if args.needs_shared:
        shared = os.environ.get("KILN_SHARED") or os.path.join(HERE, "..", "..", "..", "shared")
        if not os.path.isdir(os.path.join(shared, args.needs_shared)):
            print("skipped: ../shared/%s not found" % args.needs_shared)
            return 77

    tmp = tempfile.mkdtemp(prefix="kiln-ref-")
    try:
        {"dump": mode_dump, "tokens": mode_tokens, "kir": mode_kir}[args.mode](args, tmp)
    except Fail as e:
        print("FAIL: %s: %s" % (os.path.basename(os.path.normpath(args.case)), e))
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
