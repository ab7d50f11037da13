#!/usr/bin/env python3
"""test_progress.py KILN SOURCE — `kiln compile`'s progress line: drawn on a terminal (a
pseudo-terminal here) with the phases and a bar of kernels, erased at the end; nothing
when standard error is not a terminal or with -q; -v prints the phase times instead;
diagnostics land on lines of their own."""
import os
import pty
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
from common import check, finish, kiln, kiln_run, model


def on_terminal(*args):
    """Runs kiln with standard error on a pseudo-terminal: (status, bytes written there)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([kiln] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    data = b''
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:         # EIO: the other side closed
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return p.wait(timeout=300), data.decode('utf-8', 'replace')


def screen(text):
    """What a terminal shows after text: carriage returns overwrite the line."""
    lines, line, col = [], [], 0
    for ch in text:
        if ch == '\r':
            col = 0
        elif ch == '\n':
            lines.append(''.join(line).rstrip())
            line, col = [], 0
        else:
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    if line:
        lines.append(''.join(line).rstrip())
    return [l for l in lines if l]


with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 'tiny')
    rc, text = on_terminal('compile', model, '-o', out)
    check('compiles on a terminal', rc == 0, text)
    for phase in ('read', 'passes', 'weights', 'kernels', 'optimize', 'codegen', 'link'):
        check('the line names phase %s' % phase, 'kiln: %s' % phase in text)
    check('a bar of kernels done/total', re.search(r'kiln: kernels .*\[#+\] (\d+)/\1', text) is not None, text[:600])
    check('redrawn in place', '\r' in text and text.count('\r') > 5)
    check('erased at the end: only "wrote" stays', screen(text) == ['wrote ' + out], screen(text))

    p = subprocess.run([kiln, 'compile', model, '-o', out], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    check('not a terminal: standard error stays empty', p.returncode == 0 and p.stderr == '', repr(p.stderr[:300]))
    rc, text = on_terminal('compile', model, '-o', out, '-q')
    check('-q on a terminal: nothing', rc == 0 and text == '', repr(text[:300]))
    p = kiln_run('compile', model, '-o', out, '-v')
    check('-v: phase times', p.returncode == 0 and 'LLVM optimization' in p.stderr and '\r' not in p.stderr, p.stderr)

    rc, text = on_terminal('compile', os.path.join(tmp, 'missing.xml'), '-o', out)
    shown = screen(text)
    check('an error on a terminal is on a line of its own', rc == 1 and len(shown) >= 1 and
          shown[0].startswith(os.path.join(tmp, 'missing.xml') + ': error'), shown)
finish()
