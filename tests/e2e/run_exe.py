#!/usr/bin/env python3
"""run_exe.py KILN SOURCE CASE [--target T] [--cpu C] [-O N] [--weights external] [--threads 1,2,3]
[--max-seq K] — compile a model into an executable and check what the executable computes against
PyTorch.

CASE is `tiny` (models/tiny: greedy text and logits against models/tiny/reference.json, made
by scripts/train_demo.py with PyTorch) or the name of a folder of tests/ref/ whose model (its
model.xml, or `kiln import` of the folder) has one `tokens` input and a `logits` output (logits against its expected.safetensors, made by
tests/ref/make_refs.py with PyTorch). An aarch64 executable runs under
`qemu-aarch64 -L /usr/aarch64-linux-gnu`; without qemu or the cross compiler the test is
skipped (exit 77). Tolerance: max |diff| <= 1e-4 * max |expected|, as for the interpreter.

--threads T1,T2,..: every run is made with -t T1 (checked against PyTorch as above), then with
each other -t T, which must give byte-identical logits files and identical text (the kernels
split output elements, never a sum: runtime/model.h); each T > 1 is run twice, at the default
dispatch threshold and with KILN_PARALLEL_MIN_WORK=1, which splits every kernel. -t 3 on two
CPUs checks oversubscription.

--max-seq K: the model is compiled with the bound of its `seq` dimension set to K (a copy of its
XML in the temporary folder, weight and tokenizer paths made absolute), so the executable feeds
--tokens in calls of at most K positions, each after the positions already in the KV cache:
K = 1 runs every position alone through the cache (the decode path: one query over the cached
keys), K = 5 a prefill of 5 then 5-token chunks after 5, 10, ... cached positions. The logits
must still match PyTorch's, computed on the whole sequence at once."""
import argparse
import array
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument('kiln')
ap.add_argument('source')
ap.add_argument('case')
ap.add_argument('--target')
ap.add_argument('--cpu')
ap.add_argument('-O', dest='opt', default='3')
ap.add_argument('--weights', default='embedded')
ap.add_argument('--needs-shared')
ap.add_argument('--disable-pass', help='compile with --disable-pass=P (each pass must keep the results)')
ap.add_argument('--threads', help='comma-separated -t values; output must not depend on them')
ap.add_argument('--max-seq', type=int, help='compile with the bound of seq set to this: --tokens is fed in calls '
                'of at most that many positions through the KV cache')
args = ap.parse_args()
kiln = os.path.abspath(args.kiln)
src = args.source
sys.path.insert(0, os.path.join(src, 'tests', 'ref'))
import safetensors_io as st  # noqa: E402

if args.needs_shared:
    shared = os.environ.get('KILN_SHARED', os.path.join(src, '..', 'shared'))
    if not os.path.isdir(os.path.join(shared, args.needs_shared)):
        print('skipped: ../shared/%s not found' % args.needs_shared)
        sys.exit(77)
runner = []
if args.target and args.target.startswith('aarch64'):
    if not shutil.which('qemu-aarch64') or not shutil.which('aarch64-linux-gnu-gcc'):
        print('skipped: qemu-aarch64 or aarch64-linux-gnu-gcc is not installed')
        sys.exit(77)
    runner = ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu']
failures = []

# (label, extra arguments, environment) of every way an executable is run
ways = [('', [], None)]
if args.threads:
    ways = []
    for t in [int(x) for x in args.threads.split(',')]:
        ways.append(('-t %d' % t, ['-t', str(t)], None))
        if t > 1:
            ways.append(('-t %d, every kernel split' % t, ['-t', str(t)],
                         dict(os.environ, KILN_PARALLEL_MIN_WORK='1')))


def check(name, ok, detail=''):
    print('%s %s%s' % ('PASS' if ok else 'FAIL', name, (': ' + detail) if detail else ''))
    if not ok:
        failures.append(name)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, timeout=600, **kw)
    out, err = p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')
    if p.returncode != 0:
        print('$ %s\n%s%s' % (' '.join(cmd), out, err))
    return p.returncode, out, err


def compare(name, got, want):
    if len(got) != len(want):
        check(name, False, 'got %d values, expected %d' % (len(got), len(want)))
        return
    diff = max(abs(a - b) for a, b in zip(got, want))
    peak = max(abs(b) for b in want)
    check(name, diff <= 1e-4 * peak, 'max |diff| %.3g, max |expected| %.3g' % (diff, peak))


def bound_seq(model, k, tmp):
    """A copy of model (XML) in tmp whose `seq` dimension is bounded by k; the relative paths of its
    <weights> and <tokenizer> elements are made absolute so that the copy reads the same files."""
    base = os.path.dirname(os.path.abspath(model))
    text = open(model, encoding='utf-8').read()
    text, n = re.subn(r'(<dim\s+name="seq"\s+max=")[^"]*(")', lambda m: m.group(1) + str(k) + m.group(2), text)
    if n != 1:
        check('%s declares <dim name="seq" max="..."/> once' % model, False)
        sys.exit(1)

    def absolute(tag):
        return re.sub(r'(\s(?!kind=)\w+=")([^"]*)(")',
                      lambda m: m.group(1) + os.path.join(base, m.group(2)) + m.group(3), tag.group(0))
    text = re.sub(r'<(weights|tokenizer)\b[^>]*>', absolute, text)
    out = os.path.join(tmp, 'max-seq-%d.xml' % k)
    with open(out, 'w', encoding='utf-8') as f:
        f.write(text)
    print('compiling %s with seq <= %d' % (os.path.relpath(model, src), k))
    return out


with tempfile.TemporaryDirectory() as tmp:
    model = os.path.join(src, 'models', 'tiny', 'model.xml') if args.case == 'tiny' else \
        os.path.join(src, 'tests', 'ref', args.case, 'model.xml')
    if not os.path.exists(model):       # a Hugging Face folder (gpt2-b): import it first
        folder = os.path.dirname(model)
        model = os.path.join(tmp, 'imported.xml')
        rc, out, err = run([kiln, 'import', folder, '-o', model])
        check('import %s' % os.path.relpath(folder, src), rc == 0)
    if args.max_seq:
        model = bound_seq(model, args.max_seq, tmp)
    exe = os.path.join(tmp, args.case)
    cmd = [kiln, 'compile', model, '-o', exe, '-O' + args.opt, '-q']
    if args.target:
        cmd += ['--target', args.target]
    if args.cpu:
        cmd += ['--cpu', args.cpu]
    if args.weights == 'external':
        cmd += ['--weights=external']
    if args.disable_pass:
        cmd += ['--disable-pass=' + args.disable_pass]
    rc, out, err = run(cmd)
    check('compile %s' % os.path.relpath(model, src), rc == 0)
    if rc != 0:
        sys.exit(1)
    logits_file = os.path.join(tmp, 'logits.f32')

    def logits_once(ids, extra, env):
        if os.path.exists(logits_file):
            os.unlink(logits_file)
        rc, out, err = run(runner + [exe, '--tokens', ','.join(map(str, ids)), '--logits', logits_file] + extra,
                           env=env)
        return open(logits_file, 'rb').read() if rc == 0 and os.path.exists(logits_file) else b''

    def logits_of(ids):
        """The logits of the first way; the other ways must give the same bytes."""
        first = logits_once(ids, ways[0][1], ways[0][2])
        for label, extra, env in ways[1:]:
            got = logits_once(ids, extra, env)
            check('%d positions with %s: logits byte-identical to %s' % (len(ids), label, ways[0][0]),
                  len(first) > 0 and got == first)
        return array.array('f', first)

    def text_of(cmd):
        """rc and output of the first way; the other ways must print the same."""
        rc, out, err = run(runner + cmd + ways[0][1], env=ways[0][2])
        for label, extra, env in ways[1:]:
            rc2, out2, err2 = run(runner + cmd + extra, env=env)
            check('%s: same text with %s as with %s' % (' '.join(cmd[1:3]), label, ways[0][0]),
                  rc2 == rc and out2 == out, '' if out2 == out else repr(out2[:150]))
        return rc, out, err

    if args.case == 'tiny':
        ref = json.load(open(os.path.join(src, 'models', 'tiny', 'reference.json')))
        lg = ref['logits']
        ids = ref['prompts'][lg['prompt_index']]['ids'][:lg['shape'][0]]
        want = array.array('f', open(os.path.join(src, 'models', 'tiny', lg['file']), 'rb').read())
        compare('logits of %d positions' % len(ids), logits_of(ids), want)
        for case in ref['prompts']:
            rc, out, err = text_of([exe, '-p', case['prompt'], '-n', str(len(case['new_ids'])), '--temperature', '0'])
            check('greedy continuation of %r' % case['prompt'], rc == 0 and out.rstrip('\n') == case['text'],
                  '' if out.rstrip('\n') == case['text'] else repr(out[:150]))
    else:
        inputs = st.read(os.path.join(src, 'tests', 'ref', args.case, 'inputs.safetensors'))
        expected = st.read(os.path.join(src, 'tests', 'ref', args.case, 'expected.safetensors'))
        pairs = [('tokens', 'logits')] if 'tokens' in inputs else \
            sorted((k, 'logits_' + k.split('_')[1]) for k in inputs if k.startswith('tokens_'))
        for tin, tout in pairs:
            dtype, shape, raw = inputs[tin]
            ids = st.to_list(dtype, raw)
            dtype, shape, raw = expected[tout]
            compare('%s → %s' % (tin, tout), logits_of(ids), st.to_list(dtype, raw))
print('%d failures' % len(failures))
sys.exit(1 if failures else 0)
