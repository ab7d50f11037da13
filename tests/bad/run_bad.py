#!/usr/bin/env python3
"""run_bad.py KILN CASE — runs one bad-input case and checks that kiln refuses it properly.

A case is a file in tests/bad/cases/: a model (.xml, .kir) or a command (.case). Its
comments say what must happen: `expect: TEXT` (one or more; each TEXT must appear in kiln's
standard error; `ok` means the command must succeed) and optionally `cmd: ARGS` (default
`check {file}`; {file} is the case, {tmp} a scratch directory), `status: N` (default 1) and
`env: NAME=VALUE` (set for kiln). A file with neither (empty or
binary files) has its expectations in CASE.expect. Every refusal must exit with that status
(1: the input is wrong; 2: the command line is), and nothing may crash: no "internal error", no signal,
no sanitizer report. Runs in the cases directory so messages name files as written there."""
import os
import re
import subprocess
import sys
import tempfile

kiln, case = os.path.abspath(sys.argv[1]), sys.argv[2]
cases = os.path.dirname(os.path.abspath(case))
name = os.path.basename(case)
raw = open(case, 'rb').read().decode('utf-8', 'replace')
expects = re.findall(r'(?:<!--|#) expect: (.*?)(?: -->)?\s*$', raw, re.M)
cmds = re.findall(r'(?:<!--|#) cmd: (.*?)(?: -->)?\s*$', raw, re.M)
envs = dict(e.split('=', 1) for e in re.findall(r'(?:<!--|#) env: (\S+=\S*)', raw))
if os.path.exists(case + '.expect'):
    expects += [l for l in open(case + '.expect').read().splitlines() if l]
if not expects:
    print('%s: no expectations in the case' % name)
    sys.exit(1)
with tempfile.TemporaryDirectory() as tmp:
    args = (cmds[0] if cmds else 'check {file}').replace('{file}', name).replace('{tmp}', tmp).split()
    want_ok = expects == ['ok']
    if args[0] == 'check-ok':
        args = ['check', name]
    try:
        p = subprocess.run([kiln] + args, cwd=cases, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                           env=dict(os.environ, **envs))
    except subprocess.TimeoutExpired:
        print('%s: FAIL: kiln hung (60 s)' % name)
        sys.exit(1)
err = p.stderr.decode('utf-8', 'replace')
print('$ kiln %s\n%s' % (' '.join(args), err.rstrip()))
bad = []
if p.returncode < 0:
    bad.append('killed by signal %d' % -p.returncode)
if 'internal error' in err or 'Sanitizer' in err or 'runtime error:' in err:
    bad.append('crash or sanitizer report')
status = re.findall(r'(?:<!--|#) status: (\d+)', raw)
want_rc = 0 if want_ok else int(status[0]) if status else 1
if p.returncode != want_rc:
    bad.append('exit status %d, expected %d' % (p.returncode, want_rc))
if not want_ok:
    for e in expects:
        if e not in err:
            bad.append('missing in stderr: %s' % e)
if bad:
    print('%s: FAIL: %s' % (name, '; '.join(bad)))
    sys.exit(1)
print('%s: PASS' % name)
