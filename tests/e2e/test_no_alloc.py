#!/usr/bin/env python3
"""test_no_alloc.py KILN SOURCE SHIM — a compiled model allocates nothing per token.

The bundled tiny model is compiled into an executable and run with an LD_PRELOAD shim
that counts malloc/calloc/realloc (tests/runtime/malloc_count.c); generating 1 token and 60
tokens must make exactly as many allocations: everything is planned at compile time and
allocated once at start-up."""
import os
import subprocess
import sys
import tempfile

kiln, src, shim = os.path.abspath(sys.argv[1]), sys.argv[2], os.path.abspath(sys.argv[3])
with tempfile.TemporaryDirectory() as tmp:
    exe = os.path.join(tmp, 'tiny')
    subprocess.run([kiln, 'compile', os.path.join(src, 'models', 'tiny', 'model.xml'), '-o', exe, '-q'], check=True)
    counts = {}
    for n in (1, 60):
        cf = os.path.join(tmp, 'count%d' % n)
        env = dict(os.environ, LD_PRELOAD=shim, KILN_MALLOC_COUNT_FILE=cf)
        p = subprocess.run([exe, '-p', 'And the LORD said', '-n', str(n), '--temperature', '0.8', '--seed', '3'],
                           env=env, capture_output=True, text=True)
        if p.returncode != 0:
            print(p.stderr)
            sys.exit(1)
        counts[n] = open(cf).read().strip()
    print('allocations: -n 1: %s, -n 60: %s' % (counts[1], counts[60]))
    ok = counts[1] == counts[60]
    print('PASS' if ok else 'FAIL: the decode loop allocates')
    sys.exit(0 if ok else 1)
