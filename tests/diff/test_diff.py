#!/usr/bin/env python3
"""test_diff.py KILN SOURCE [--target TRIPLE] — `kiln diff` on tests/ref/gpt2-a (driver/diff.c).

1. The compiled model agrees with the interpreter: exit 0, more than 0 nodes compared, every
   table line OK.
2. With every fusion pass disabled (the names starting with `fuse-` in --list-passes) more
   nodes are compared, all OK.
3. It catches a wrong value: KILN_DIFF_PERTURB=NODE makes the executable add 1.0 to NODE's
   first element before the next nodes read it. Exit 1, NODE is the first FAIL line, every
   line before it is OK, and the error names NODE at the line of model.xml that declares it.
   Done with the default passes and without fusions; NODE is a node of the second layer
   compared in both runs.
4. A capture option given to an executable that was not compiled for capture is refused.
With --target aarch64-linux-gnu the executables run under qemu-aarch64 (skip, 77, without it)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

kiln, src = os.path.abspath(sys.argv[1]), sys.argv[2]
extra = sys.argv[3:]
if '--target' in extra and extra[extra.index('--target') + 1].startswith('aarch64'):
    if not shutil.which('qemu-aarch64') or not shutil.which('aarch64-linux-gnu-gcc'):
        print('skipped: qemu-aarch64 or aarch64-linux-gnu-gcc is not installed')
        sys.exit(77)
case_dir = os.path.join(src, 'tests', 'ref', 'gpt2-a')
tokens = '5,17,42,99,0,3,64'
failures = []


def check(name, ok, detail=''):
    print('%s %s%s' % ('PASS' if ok else 'FAIL', name, (': ' + detail) if detail and not ok else ''))
    if not ok:
        failures.append(name)


def diff(*args, env=None):
    """Runs kiln diff in the case folder; returns (status, table rows, compared count, stderr)."""
    p = subprocess.run([kiln, 'diff', 'model.xml', '--tokens', tokens] + extra + list(args), cwd=case_dir,
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, **(env or {})))
    print('$ %skiln diff model.xml --tokens %s %s' % (''.join('%s=%s ' % kv for kv in (env or {}).items()), tokens,
                                                     ' '.join(extra + list(args))))
    print(p.stdout + p.stderr)
    rows = [l.split() for l in p.stdout.splitlines() if l.endswith((' OK', ' FAIL'))]
    m = re.search(r'^compared (\d+) nodes', p.stdout, re.M)
    return p.returncode, rows, int(m.group(1)) if m else -1, p.stderr


passes = subprocess.run([kiln, 'compile', '--list-passes'], capture_output=True, text=True).stdout.split('\n')
fusions = [l.split()[0] for l in passes if l.startswith('fuse-')]
no_fusion = ['--disable-pass=' + ','.join(fusions)] if fusions else []

rc, rows, n_default, _ = diff()
check('default passes: exit 0', rc == 0, 'status %d' % rc)
check('default passes: nodes compared', n_default > 0 and len(rows) == n_default, '%d' % n_default)
check('default passes: every node OK', rows and all(r[-1] == 'OK' for r in rows))
default_names = [r[0] for r in rows]

rc, rows, n_unfused, _ = diff(*no_fusion)
check('without fusions: exit 0', rc == 0, 'status %d' % rc)
if fusions:
    check('without fusions (%s): more nodes compared' % ', '.join(fusions), n_unfused > n_default,
          '%d vs %d' % (n_unfused, n_default))
check('without fusions: every node OK', rows and all(r[-1] == 'OK' for r in rows))
unfused_names = [r[0] for r in rows]

# a node of the second layer, compared with and without fusions, and not the last one
both = [n for n in default_names if n in unfused_names and n.startswith('h1.')]
victim = both[len(both) // 2] if both else None
check('a second-layer node to perturb', victim is not None)
xml = open(os.path.join(case_dir, 'model.xml')).read().splitlines()
decl = [i + 1 for i, l in enumerate(xml) if 'name="h{i}.%s"' % (victim or '')[3:] in l]
for label, args in (('default passes', []), ('without fusions', no_fusion)):
    if not victim:
        break
    rc, rows, _, err = diff(*args, env={'KILN_DIFF_PERTURB': victim})
    check('%s, %s perturbed: exit 1' % (label, victim), rc == 1, 'status %d' % rc)
    first = next((i for i, r in enumerate(rows) if r[-1] == 'FAIL'), None)
    check('%s: the first FAIL is %s' % (label, victim), first is not None and rows[first][0] == victim,
          rows[first][0] if first is not None else 'no FAIL')
    check('%s: the nodes before it are OK' % label, first is not None and all(r[-1] == 'OK' for r in rows[:first]))
    m = re.search(r"^model\.xml:(\d+):(\d+): error: \w+ '%s': the first node past tolerance" % re.escape(victim), err,
                  re.M)
    check('%s: the error names %s at model.xml:%s' % (label, victim, decl), m is not None and int(m.group(1)) in decl,
          err.strip())

# the hidden capture option needs a capture build
with tempfile.TemporaryDirectory() as tmp:
    exe = os.path.join(tmp, 'gpt2-a')
    p = subprocess.run([kiln, 'compile', os.path.join(case_dir, 'model.xml'), '-o', exe, '-q'] + extra,
                       capture_output=True, text=True, timeout=300)
    check('plain build compiles', p.returncode == 0, p.stderr)
    runner = ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu'] if '--target' in extra else []
    p = subprocess.run(runner + [exe, '--tokens', '1,2', '--logits', os.path.join(tmp, 'l.f32'), '--capture',
                                 os.path.join(tmp, 'c.bin')], capture_output=True, text=True, timeout=120)
    check('--capture refused by a plain build', p.returncode == 2 and 'not compiled for capture' in p.stderr,
          p.stderr)
    check('no capture file written', not os.path.exists(os.path.join(tmp, 'c.bin')))

print('%d failures' % len(failures) if failures else 'all passed')
sys.exit(1 if failures else 0)
