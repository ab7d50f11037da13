#!/usr/bin/env python3
"""test_stories260k.py KILN SOURCE [--target T] [--threads 1,2] — a real llama2.c model,
token for token against llama2.c's own output.

../shared/models/stories260K/ holds Karpathy's stories260K.bin, its tok512.bin and the exact
stdout of llama2.c's run.c for a few prompts (expected/*.txt), with the command line of each in
expected/README.md. This test reads those command lines (prompt after -i, positions after -n),
imports the checkpoint with `kiln import stories260K.bin --tokenizer tok512.bin`, and checks
that `kiln run` (the reference interpreter) and the compiled executable print the same bytes.

The one convention to translate: run.c's `-n N` counts positions fed, BOS and the prompt
included, and it samples one token per position; kiln's `-n K` counts the new tokens, and
the last one needs no position. The prompt of P tokens (BOS included, as kiln reports with
--show-ids) therefore gets K = N - P + 1 new tokens. Generation stops earlier when the model
produces BOS (id 1), as run.c does; the imported model says so with its parameter eos = 1.

Skips (exit 77) when ../shared is absent."""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument('kiln')
ap.add_argument('source')
ap.add_argument('--target')
ap.add_argument('--threads', default='1')
args = ap.parse_args()
kiln = os.path.abspath(args.kiln)
shared = os.environ.get('KILN_SHARED', os.path.join(args.source, '..', 'shared'))
model_dir = os.path.join(shared, 'models', 'stories260K')
if not os.path.isfile(os.path.join(model_dir, 'stories260K.bin')):
    print('skipped: %s not found (the stories260K model lives in ../shared/models)' % model_dir)
    sys.exit(77)
runner = []
if args.target and args.target.startswith('aarch64'):
    if not shutil.which('qemu-aarch64') or not shutil.which('aarch64-linux-gnu-gcc'):
        print('skipped: qemu-aarch64 or aarch64-linux-gnu-gcc missing')
        sys.exit(77)
    runner = ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu']

failures = 0


def check(name, ok, detail=''):
    global failures
    print('%s: %s' % ('ok' if ok else 'FAIL', name))
    if not ok:
        failures += 1
        if detail:
            print(detail)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, timeout=600, **kw)
    return p.returncode, p.stdout, p.stderr.decode('utf-8', 'replace')


def cases():
    """(file, prompt, n) from the table of expected/README.md: `./run ... -n N [-i "P"]`."""
    readme = open(os.path.join(model_dir, 'expected', 'README.md'), encoding='utf-8').read()
    out = []
    for line in readme.splitlines():
        m = re.match(r'\|\s*`([^`]+\.txt)`\s*\|\s*`(\./run [^`]+)`', line)
        if not m:
            continue
        argv = shlex.split(m.group(2))
        prompt = argv[argv.index('-i') + 1] if '-i' in argv else ''
        out.append((m.group(1), prompt, int(argv[argv.index('-n') + 1])))
    return out


def prompt_tokens(cmd):
    """The prompt's token count (BOS included) as kiln reports it with --show-ids."""
    rc, out, err = run(cmd + ['-n', '1', '--show-ids'])
    m = re.search(r'prompt ids: ([0-9,]+)', err)
    if rc != 0 or not m:
        print(err)
        sys.exit('FAIL: no prompt ids from %s' % ' '.join(cmd))
    return len(m.group(1).split(','))


with tempfile.TemporaryDirectory() as tmp:
    xml = os.path.join(tmp, 'stories260K.xml')
    rc, out, err = run([kiln, 'import', os.path.join(model_dir, 'stories260K.bin'),
                        '--tokenizer', os.path.join(model_dir, 'tok512.bin'), '-o', xml])
    check('kiln import stories260K.bin --tokenizer tok512.bin', rc == 0, err)
    if rc != 0:
        sys.exit(1)
    exe = os.path.join(tmp, 'stories260K')
    compile_cmd = [kiln, 'compile', xml, '-o', exe]
    if args.target:
        compile_cmd += ['--target', args.target]
    rc, out, err = run(compile_cmd)
    check('kiln compile', rc == 0, err)
    if rc != 0:
        sys.exit(1)

    todo = cases()
    check('expected/README.md lists the cases', len(todo) >= 3, repr(todo))
    for name, prompt, n in todo:
        want = open(os.path.join(model_dir, 'expected', name), 'rb').read()
        interp = [kiln, 'run', xml, '-p', prompt]
        p = prompt_tokens(interp)
        k = n - p + 1
        rc, out, err = run(interp + ['-n', str(k)])
        check('kiln run, %s (-p %r -n %d)' % (name, prompt, k), rc == 0 and out == want,
              'exit %d\n--- want\n%r\n--- got\n%r\n%s' % (rc, want, out, err))
        for t in args.threads.split(','):
            cmd = runner + [exe, '-p', prompt, '-n', str(k), '-t', t]
            rc, out, err = run(cmd)
            check('executable -t %s, %s' % (t, name), rc == 0 and out == want,
                  'exit %d\n--- want\n%r\n--- got\n%r\n%s' % (rc, want, out, err))

print('%s' % ('all passed' if failures == 0 else '%d failed' % failures))
sys.exit(1 if failures else 0)
