"""common.py — what the tests of tests/inspect share: checks, running kiln, the tiny model."""
import os
import subprocess
import sys

kiln, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
model = os.path.join(src, 'models', 'tiny', 'model.xml')
failures = []


def check(name, ok, detail=''):
    print('%s %s%s' % ('PASS' if ok else 'FAIL', name, (': ' + str(detail)) if detail and not ok else ''))
    if not ok:
        failures.append(name)


def kiln_run(*args, **kw):
    """kiln ARGS; prints stderr when it fails."""
    p = subprocess.run([kiln] + [str(a) for a in args], capture_output=True, text=True, timeout=300, **kw)
    if p.returncode:
        print('$ kiln %s\n%s' % (' '.join(map(str, args)), p.stderr))
    return p


def xml_line(fragment):
    """The line of models/tiny/model.xml holding fragment (a node's name="...")."""
    for i, line in enumerate(open(model), 1):
        if fragment in line:
            return i
    raise SystemExit('model.xml has no %r' % fragment)


def finish():
    if failures:
        print('%d failed: %s' % (len(failures), ', '.join(failures)))
        sys.exit(1)
    print('all passed')
