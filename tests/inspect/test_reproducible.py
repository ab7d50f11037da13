#!/usr/bin/env python3
"""test_reproducible.py KILN SOURCE — the same model and flags give a byte-identical
executable, whatever the output path, the temporary folder (TMPDIR), the working directory
and the spelling of the model's path (absolute, relative); with -g, external weights and
for AArch64 too."""
import filecmp
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
from common import check, finish, kiln_run, model


def build(root, name, flags, relative):
    """Compiles from root/cwd with TMPDIR root/tmp into root/out/name."""
    for d in ('cwd', 'tmp', 'out'):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    cwd = os.path.join(root, 'cwd')
    out = os.path.join(root, 'out', name)
    path = os.path.relpath(model, cwd) if relative else model
    env = dict(os.environ, TMPDIR=os.path.join(root, 'tmp'))
    p = kiln_run('compile', path, '-o', out, '-q', *flags, cwd=cwd, env=env)
    return out if p.returncode == 0 else None


variants = [[], ['-g'], ['-O1', '--weights=external']]
if shutil.which('aarch64-linux-gnu-gcc'):
    variants.append(['--target', 'aarch64-linux-gnu', '-g'])
else:
    print('SKIP aarch64: aarch64-linux-gnu-gcc is not installed')
with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
    for flags in variants:
        tag = ' '.join(flags) or 'default flags'
        x = build(os.path.join(a, 'one'), 'tiny', flags, relative=False)
        y = build(os.path.join(b, 'second', 'place'), 'renamed-output', flags, relative=True)
        check('%s: both compile' % tag, x and y)
        if x and y:
            check('%s: byte-identical executables' % tag, filecmp.cmp(x, y, shallow=False))
            if '--weights=external' in flags:
                check('%s: byte-identical weights files' % tag, filecmp.cmp(x + '.weights', y + '.weights', shallow=False))
        for root in (os.path.join(a, 'one', 'tmp'), os.path.join(b, 'second', 'place', 'tmp')):
            left = os.listdir(root)
            check('%s: no temporary file left' % tag, not left, left)
finish()
