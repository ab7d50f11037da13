#!/usr/bin/env python3
"""test_no_alloc.py KILN SOURCE SHIM — a compiled model allocates nothing per token.

The bundled tiny model is compiled into an executable and run with an LD_PRELOAD shim
that counts malloc/calloc/realloc (tests/runtime/malloc_count.c); generating 1 token and 60
tokens must make exactly as many allocations: everything is planned at compile time and
allocated once at start-up. So with every thread count (-t 1, 2, 3, and the measured
default): the pool's threads are made at start-up, not per token, and with -t 2 and 3 every
kernel is split (KILN_PARALLEL_MIN_WORK=1), so that the pool really runs jobs. Skipped (77)
in a sanitizer build, whose executables' runtime is instrumented (backend/link.c): ASan
owns malloc there, and the counting shim cannot come before it; the plain build runs it."""
import os
import subprocess
import sys
import tempfile

kiln, src, shim = os.path.abspath(sys.argv[1]), sys.argv[2], os.path.abspath(sys.argv[3])
with tempfile.TemporaryDirectory() as tmp:
    exe = os.path.join(tmp, 'tiny')
    subprocess.run([kiln, 'compile', os.path.join(src, 'models', 'tiny', 'model.xml'), '-o', exe, '-q'], check=True)
    if 'libasan' in subprocess.run(['readelf', '-d', exe], capture_output=True, text=True).stdout:
        print('skipped: this kiln links executables with the sanitized runtime (ASan owns malloc)')
        sys.exit(77)
    fails = 0
    for threads in ([], ['-t', '1'], ['-t', '2'], ['-t', '3']):
        counts = {}
        for n in (1, 60):
            cf = os.path.join(tmp, 'count%d' % n)
            env = dict(os.environ, LD_PRELOAD=shim, KILN_MALLOC_COUNT_FILE=cf)
            if threads and threads[1] != '1':
                env['KILN_PARALLEL_MIN_WORK'] = '1'
            p = subprocess.run([exe, '-p', 'And the LORD said', '-n', str(n), '--temperature', '0.8', '--seed', '3'] +
                               threads, env=env, capture_output=True, text=True)
            if p.returncode != 0:
                print(p.stderr)
                sys.exit(1)
            counts[n] = open(cf).read().strip()
        ok = counts[1] == counts[60]
        fails += not ok
        print('%s %s: allocations -n 1: %s, -n 60: %s%s' % ('PASS' if ok else 'FAIL', ' '.join(threads) or 'default -t',
              counts[1], counts[60], '' if ok else ' (the decode loop allocates)'))
    sys.exit(1 if fails else 0)
