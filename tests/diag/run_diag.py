#!/usr/bin/env python3
"""run_diag.py KILN CASES — kiln's diagnostics end to end (docs/diagnostics.md).

Each model in CASES (.xml, .kir) has beside it CASE.stderr: the whole standard error of
`kiln check --color=never CASE`, run in CASES, which must match exactly (the quoted lines
and carets included) with exit status 1; a generated model of 70000 lines checks places
past line 65535, where libxml2's own line numbers are not reliable. Then colour:
--color=always gives gcc's escape sequences; by default there is no colour on a pipe, and
on a terminal (a pseudo-terminal here) there is, unless NO_COLOR is set, TERM is dumb or
--color=never says so; --color is taken by every command, anywhere on the line, and a bad
value is a usage error (status 2)."""
import glob
import os
import pty
import subprocess
import sys
import tempfile

kiln, cases = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
failures = []


def check(name, ok, detail=''):
    print('%s %s' % ('PASS' if ok else 'FAIL', name))
    if not ok:
        print(''.join('| %s\n' % l for l in str(detail).splitlines()))
        failures.append(name)


def run(args, env=None):
    p = subprocess.run([kiln] + args, cwd=cases, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stderr.decode('utf-8', 'replace')


def run_tty(args, env):
    """kiln with its standard error on a pseudo-terminal; returns (status, what it printed there)."""
    master, slave = pty.openpty()
    full = dict(os.environ)
    full.pop('NO_COLOR', None)
    full['TERM'] = 'xterm'
    full.update(env)
    p = subprocess.Popen([kiln] + args, cwd=cases, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=slave, env=full)
    os.close(slave)
    out = b''
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:     # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout=60), out.decode('utf-8', 'replace').replace('\r\n', '\n')


# ---- exact output, without colour ----
models = sorted(glob.glob(os.path.join(cases, '*.xml')) + glob.glob(os.path.join(cases, '*.kir')))
for path in models:
    name = os.path.basename(path)
    want = open(path + '.stderr', encoding='utf-8').read() if os.path.exists(path + '.stderr') else None
    rc, err = run(['check', '--color=never', name])
    check('%s: status 1' % name, rc == 1, 'status %d\n%s' % (rc, err))
    check('%s: the whole message' % name, want is not None and err == want,
          '--- want\n%s--- got\n%s' % (want, err))

# ---- past line 65535, where libxml2's own line numbers go wrong ----
with tempfile.TemporaryDirectory() as tmp:
    lines = ['<model name="t">'] + ['<!-- %d -->' % i for i in range(70000)] + [
        '<dim name="b" max="0"/>', '  <dim name="c"', '   max="0"/>',
        '<param name="p" value="1"/><dim name="d" max="0"/>', '<graph><output name="o" from="x"/></graph></model>']
    open(os.path.join(tmp, 'big.xml'), 'w').write('\n'.join(lines) + '\n')
    p = subprocess.run([kiln, 'check', '--color=never', 'big.xml'], cwd=tmp, capture_output=True, timeout=60)
    err = p.stderr.decode('utf-8', 'replace')
    want = ('big.xml:70002:15: error: max 0 is out of range (1 to 1099511627776)\n'
            ' 70002 | <dim name="b" max="0"/>\n'
            '       |               ^\n'
            'big.xml:70004:4: error: max 0 is out of range (1 to 1099511627776)\n'
            ' 70004 |    max="0"/>\n'
            '       |    ^\n'
            'big.xml:70005:42: error: max 0 is out of range (1 to 1099511627776)\n'
            ' 70005 | <param name="p" value="1"/><dim name="d" max="0"/>\n'
            '       |                                          ^\n'
            '3 errors\n')
    check('line 70002 and after: each error at its own line and column', p.returncode == 1 and err == want,
          '--- want\n%s--- got\n%s' % (want, err))

# ---- colour ----
ESC = '\033['
rc, err = run(['check', '--color=always', 'caret.xml'])
first, quote, caret = (err.splitlines() + ['', '', ''])[:3]
check('--color=always: bold location, red error:',
      first.startswith('\033[01mcaret.xml:7:9:\033[m \033[01;31merror:\033[m unknown op'), repr(first))
check('--color=always: the quoted line is plain', ESC not in quote and quote.startswith('    7 | '), repr(quote))
check('--color=always: a green caret', caret.endswith('\033[01;32m^\033[m'), repr(caret))
check('--color=always, even with NO_COLOR', ESC in run(['check', '--color=always', 'caret.xml'], {'NO_COLOR': '1'})[1])
rc, err = run(['check', 'caret.xml'], {'NO_COLOR': ''})
check('default on a pipe: no colour', rc == 1 and ESC not in err and 'error: unknown op' in err, repr(err))

rc, out = run_tty(['check', 'caret.xml'], {})
check('default on a terminal: colour', rc == 1 and '\033[01;31merror:' in out, repr(out))
rc, out = run_tty(['check', 'caret.xml'], {'NO_COLOR': '1'})
check('on a terminal with NO_COLOR: no colour', rc == 1 and ESC not in out and 'error: unknown op' in out, repr(out))
rc, out = run_tty(['check', 'caret.xml'], {'TERM': 'dumb'})
check('on a dumb terminal: no colour', rc == 1 and ESC not in out and 'error: unknown op' in out, repr(out))
rc, out = run_tty(['--color=never', 'check', 'caret.xml'], {})
check('on a terminal with --color=never (before the command): no colour',
      rc == 1 and ESC not in out and 'error: unknown op' in out, repr(out))

# ---- the option itself ----
rc, err = run(['check', '--color', 'always', 'caret.xml'])
check('--color WHEN as two words', rc == 1 and '\033[01;31merror:' in err, repr(err))
rc, err = run(['check', 'caret.xml', '--color=sometimes'])
check('--color=sometimes: usage error', rc == 2 and "--color needs auto, always or never, not 'sometimes'" in err,
      'status %d\n%s' % (rc, err))
rc, err = run(['check', 'caret.xml', '--color'])
check('--color without a value: usage error', rc == 2 and '--color needs' in err, 'status %d\n%s' % (rc, err))
for cmd in ['import', 'check', 'run', 'compile', 'diff']:
    p = subprocess.run([kiln, cmd, '--help', '--color=never'], capture_output=True, timeout=60)
    check('kiln %s takes --color' % cmd, p.returncode == 0, p.stderr.decode('utf-8', 'replace'))
rc, err = run(['run', '--color=always', 'caret.xml', '-p', 'a', '-n', '1'])
check('kiln run colours the model\'s errors', rc == 1 and '\033[01;31merror:' in err, repr(err))

print('%d failed' % len(failures) if failures else 'all passed')
sys.exit(1 if failures else 0)
