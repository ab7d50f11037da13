#!/usr/bin/env python3
"""test_errors_doc.py KILN SOURCE [--write FILE] — runs every example of docs/errors.md and checks
that each message still comes out as documented.

The examples are the ```console blocks of the page: a line `$ COMMAND` (a trailing '\\'
continues it on the next line) is run, and the lines after it, up to the next `$ `, are what
it must print, standard output and error together, line for line and exactly. `$ echo $?`
is the exit status of the command before it. An HTML comment `<!-- needs: PROGRAM -->` just
above a block skips it (with a message) when PROGRAM is not on PATH.

The commands run with `bash -o pipefail -c`, one at a time and in the order of the page, in
one scratch folder laid out as the repository root after `meson setup build && ninja -C
build`: models/ and tests/ are the source's (read-only links), build/driver/kiln is KILN.
Inputs the examples need (a truncated copy of a weights file, a broken vocab.json) are made
by their own commands in the scratch folder. Paths are normalized: the scratch folder's
absolute path in the output reads /path/to/kiln, as on the page.

--write FILE writes the page to FILE with each command followed by what it printed now,
instead of comparing: to add an example, write its commands, then read the diff."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

kiln, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
write = sys.argv[sys.argv.index('--write') + 1] if '--write' in sys.argv else None
doc = os.path.join(src, 'docs', 'errors.md')
CRASH = ('internal error', 'Sanitizer', 'runtime error:', 'Segmentation fault', 'core dumped')


def blocks(text):
    """(line number, needs, [(command, [expected lines])], end line) of each ```console block;
    line numbers from 1, of the block's first and closing lines."""
    out, lines, i = [], text.split('\n'), 0
    while i < len(lines):
        if lines[i].strip() != '```console':
            i += 1
            continue
        m = re.match(r'\s*<!-- needs: (.*?) -->', lines[i - 1]) if i > 0 else None
        needs = m.group(1).split() if m else []
        start, i, steps = i + 1, i + 1, []
        while i < len(lines) and lines[i].strip() != '```':
            line = lines[i]
            if line.startswith('$ '):
                cmd = line[2:]
                while cmd.endswith('\\') and i + 1 < len(lines):
                    i += 1
                    cmd += '\n' + lines[i]
                steps.append((cmd, []))
            elif steps:
                steps[-1][1].append(line)
            i += 1
        out.append((start, needs, steps, i + 1))
        i += 1
    return out


tmp = tempfile.mkdtemp(prefix='kiln-errors-')
os.makedirs(os.path.join(tmp, 'build', 'driver'))
os.symlink(kiln, os.path.join(tmp, 'build', 'driver', 'kiln'))
for d in ('models', 'tests'):
    os.symlink(os.path.join(src, d), os.path.join(tmp, d))
real = os.path.realpath(tmp)
env = dict(os.environ, NO_COLOR='1', LC_ALL='C.UTF-8')
env.pop('KILN_PARALLEL_MIN_WORK', None)

failures, passed, skipped, last_rc = [], 0, 0, 0
text = open(doc, encoding='utf-8').read()
page = text.split('\n')
rewritten = []          # (first line, end line, new lines) of each block, for --write
for line, needs, steps, end in blocks(text):
    new = []
    missing = [p for p in needs if not shutil.which(p)]
    if missing:
        print('SKIP docs/errors.md:%d: %s not found' % (line, ', '.join(missing)))
        skipped += 1
        continue
    for cmd, want in steps:
        if cmd == 'echo $?':
            got = [str(last_rc)]
        else:
            try:
                p = subprocess.run(['bash', '-o', 'pipefail', '-c', cmd], cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
                out, last_rc = p.stdout.decode('utf-8', 'replace'), p.returncode
            except subprocess.TimeoutExpired:
                out, last_rc = 'timed out after 300 s\n', -1
            out = out.replace(real, '/path/to/kiln').replace(tmp, '/path/to/kiln')
            got = out.split('\n')
            if got and got[-1] == '':
                got.pop()
        if write:
            new += ['$ ' + cmd] + got
            continue
        crashed = any(w in g for g in got for w in CRASH) or last_rc < 0
        if got != want or crashed:
            failures.append(cmd)
            print('FAIL docs/errors.md:%d: %s' % (line, cmd))
            for tag, ls in (('documented', want), ('printed', got)):
                print('  %s:' % tag)
                for x in ls:
                    print('    | ' + x)
        else:
            passed += 1
            print('PASS %s' % cmd.split('\n')[0][:100])
    if write and not missing:
        rewritten.append((line, end, new))
shutil.rmtree(tmp, ignore_errors=True)
if write:
    for first, end, new in reversed(rewritten):
        page[first:end - 1] = '\n'.join(new).split('\n')
    with open(write, 'w', encoding='utf-8') as f:
        f.write('\n'.join(page))
    sys.exit(0)
print('%d passed, %d failed' % (passed, len(failures)) + (', %d skipped' % skipped if skipped else ''))
sys.exit(1 if failures else 0 if passed else 77)
