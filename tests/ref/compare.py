#!/usr/bin/env python3
"""Compare tensors of two safetensors files (standard library only; no numpy).

Usage:
    python3 tests/ref/compare.py EXPECTED ACTUAL [--tol T] [--only NAME]...

Every tensor of EXPECTED (or only those named by --only, which may be repeated) must exist in
ACTUAL with the same shape, and pass

    max_i |actual_i - expected_i|  <=  T * max_i |expected_i|        (T defaults to 1e-4)

NaN or infinity in ACTUAL fails. Tensors present only in ACTUAL are ignored (listed as "extra").
Float (F32, F64) and integer (I32, I64, ...) tensors are accepted; dtypes may differ between the
two files (e.g. expected F32 vs actual F64).

Prints one line per tensor: name, shape, max abs diff, max |expected|, verdict (PASS/FAIL), plus
the flat index of the worst element on failure.
Exit status: 0 if every compared tensor passes, 1 if any fails (or none was compared), 2 if a file
cannot be read or the arguments are wrong (with a message on stderr).
"""

import argparse
import math
import os
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io as st  # noqa: E402


def load(path):
    try:
        return st.read(path)
    except OSError as e:
        sys.stderr.write("compare.py: cannot read %s: %s\n" % (path, e.strerror or e))
        sys.exit(2)
    except st.SafetensorsError as e:
        sys.stderr.write("compare.py: %s\n" % e)
        sys.exit(2)


def values(path, name, entry):
    dtype, _, raw = entry
    try:
        return st.to_list(dtype, raw)
    except st.SafetensorsError as e:
        sys.stderr.write("compare.py: %s: tensor %r: %s\n" % (path, name, e))
        sys.exit(2)


def main(argv):
    ap = argparse.ArgumentParser(description="Compare tensors of two safetensors files.")
    ap.add_argument("expected")
    ap.add_argument("actual")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="relative tolerance: max abs diff <= tol * max|expected| (default 1e-4)")
    ap.add_argument("--only", action="append", metavar="NAME", help="compare only this tensor (repeatable)")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if not (args.tol >= 0.0):
        sys.stderr.write("compare.py: --tol must be a non-negative number\n")
        return 2

    exp = load(args.expected)
    act = load(args.actual)
    names = list(exp.keys())
    if args.only:
        missing = [n for n in args.only if n not in exp]
        if missing:
            sys.stderr.write("compare.py: %s has no tensor named %s\n" % (args.expected, ", ".join(missing)))
            return 2
        names = args.only

    ok = True
    compared = 0
    print("%-28s %-16s %12s %12s  %s" % ("tensor", "shape", "max|diff|", "max|exp|", "verdict"))
    for name in names:
        compared += 1
        edt, eshape, _ = exp[name]
        shape_s = "[" + ",".join(str(d) for d in eshape) + "]"
        if name not in act:
            print("%-28s %-16s %12s %12s  FAIL (missing from %s)" % (name, shape_s, "-", "-", args.actual))
            ok = False
            continue
        adt, ashape, _ = act[name]
        if list(ashape) != list(eshape):
            print("%-28s %-16s %12s %12s  FAIL (actual shape [%s])"
                  % (name, shape_s, "-", "-", ",".join(str(d) for d in ashape)))
            ok = False
            continue
        e = values(args.expected, name, exp[name])
        a = values(args.actual, name, act[name])
        maxexp = 0.0
        for x in e:
            ax = abs(x)
            if ax > maxexp:
                maxexp = ax
        maxdiff = 0.0
        worst = -1
        bad = False
        for i in range(len(e)):
            if isinstance(a[i], float) and not math.isfinite(a[i]):
                bad = True
                worst = i
                maxdiff = float("inf")
                break
            d = abs(a[i] - e[i])
            if d > maxdiff:
                maxdiff = d
                worst = i
        passed = (not bad) and maxdiff <= args.tol * maxexp
        verdict = "PASS" if passed else "FAIL"
        if not passed:
            ok = False
            if worst >= 0:
                verdict += " (worst at flat index %d: expected %.8g, actual %.8g)" % (worst, e[worst], a[worst])
        print("%-28s %-16s %12.4e %12.4e  %s" % (name, shape_s, maxdiff, maxexp, verdict))
    if not args.only:
        extra = [n for n in act if n not in exp]
        if extra:
            print("extra (ignored): %s" % ", ".join(extra))
    if compared == 0:
        print("no tensor to compare")
        return 1
    print("%s (tol %g)" % ("ALL PASS" if ok else "SOME FAIL", args.tol))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
