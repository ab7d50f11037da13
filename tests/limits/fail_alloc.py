#!/usr/bin/env python3
"""fail_alloc.py KILN SOURCE CASE — fails kiln's allocations one at a time during a small job.

KILN_FAIL_ALLOC=N makes the Nth allocation of the process through xmalloc, xcalloc or
xrealloc fail (support/arena.c; arena blocks come from xmalloc). For N = 1, 2, 3, ... this
runs the CASE's command once per N until a run succeeds: the job makes fewer than N
allocations, so every one of them has been failed once. Each failing run must print
`kiln: error: out of memory`, exit with status 1 and nothing else: no signal, no internal
error, no sanitizer report (the test suite also runs in the ASan + UBSan build). Points past
LIMIT are sampled with a stride, to bound the time. The first run must fail (else the
injection does nothing), and the job must succeed without injection.

The cases cover the stages before LLVM: the XML frontend with its weights and tokenizer
files (GPT-2 BPE, WordPiece, characters), the passes, the IR printer and parser, and
`kiln import` of a config.json."""
import os
import subprocess
import sys
import tempfile

kiln, source, case = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
LIMIT = 4000            # points tried one by one; beyond, every STRIDE-th
STRIDE = 7

models = os.path.join(source, 'models')
CASES = {
    # frontend (XML, safetensors, GPT-2 BPE files), passes, IR printer
    'compile-tiny': ['compile', os.path.join(models, 'tiny', 'model.xml'), '--emit=ir', '-o', '{tmp}/t.kir'],
    # the IR text parser and verifier, on what the previous case writes
    'compile-kir': ['compile', '{tmp}/t.kir', '--emit=ir', '-o', '{tmp}/t2.kir'],
    # an encoder with a WordPiece vocabulary
    'check-bert': ['check', os.path.join(models, 'bert-tiny', 'model.xml')],
    # encoder-decoder with a character vocabulary
    'check-seq2seq': ['check', os.path.join(models, 'seq2seq-numbers', 'model.xml')],
    # kiln import of a Hugging Face GPT-2 folder (config.json, weights, tokenizer files)
    'import-tiny': ['import', os.path.join(models, 'tiny'), '-o', '{tmp}/m.xml'],
}


def run(args, fail_at, tmp):
    env = dict(os.environ)
    env.pop('KILN_FAIL_ALLOC', None)
    if fail_at:
        env['KILN_FAIL_ALLOC'] = str(fail_at)
    env['ASAN_OPTIONS'] = 'detect_leaks=1:abort_on_error=0'
    p = subprocess.run([kiln] + [a.replace('{tmp}', tmp) for a in args], capture_output=True,
                       timeout=120, stdin=subprocess.DEVNULL, env=env)
    return p.returncode, p.stderr.decode('utf-8', 'replace')


with tempfile.TemporaryDirectory() as tmp:
    if case == 'compile-kir':
        rc, err = run(CASES['compile-tiny'], 0, tmp)
        if rc != 0:
            print('could not make the .kir to read:\n' + err)
            sys.exit(1)
    args = CASES[case]
    rc, err = run(args, 0, tmp)
    if rc != 0:
        print('kiln %s fails without injection:\n%s' % (' '.join(args), err))
        sys.exit(1)
    n, tried, bad = 1, 0, []
    while True:
        rc, err = run(args, n, tmp)
        if rc == 0:
            break
        tried += 1
        if rc < 0:
            bad.append('point %d: killed by signal %d' % (n, -rc))
        elif rc != 1:
            bad.append('point %d: exit status %d, expected 1' % (n, rc))
        if 'kiln: error: out of memory' not in err:
            bad.append('point %d: no out-of-memory message' % n)
        if 'internal error' in err or 'Sanitizer' in err or 'runtime error:' in err:
            bad.append('point %d: crash or sanitizer report' % n)
        if bad and len(bad) >= 5:
            break
        n += 1 if n < LIMIT else STRIDE
    if bad:
        print('\n'.join(bad))
        print('last stderr:\n' + err)
        sys.exit(1)
    if tried == 0:
        print('KILN_FAIL_ALLOC=1 did not fail the job: the injection does nothing')
        sys.exit(1)
    print('%s: %d allocation points failed in turn (%s), each a clean out-of-memory error'
          % (case, tried, 'all of the job\'s' if n <= LIMIT else 'every %d-th past %d' % (STRIDE, LIMIT)))
