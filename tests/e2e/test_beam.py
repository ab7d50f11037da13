#!/usr/bin/env python3
"""test_beam.py KILN SOURCE — --beam N and --length-penalty of a decoder's executable.

The model is models/tiny with its dim batch raised to 4 (beams are rows of a batch). The
reference search is written here in Python from the specification of runtime/beam.h (the
same as scripts/train_seq2seq.py's beam() with bounded_stop): candidates of every live
hypothesis scored by the sum of log-probabilities, the 2N best walked in order, eos ones
finished with sum / len^alpha, stop at N finished once the best of them beats every live
sum / max_len^alpha, or at the length bound; the best normalized score wins. Its log-
probabilities come from the reference interpreter (`kiln run --tokens PROMPT+HYP --logits`,
the last row, log-softmax in double), each prefix recomputed from scratch — no KV cache, no
reordering — so it checks the executable's batched rows, state reordering and search at once.
Also: --beam 1 gives the greedy ids; bad combinations are refused (exit 2)."""
import math
import re
import os
import shutil
import struct
import subprocess
import sys
import tempfile

kiln, src = os.path.abspath(sys.argv[1]), sys.argv[2]
failures = []


def check(name, ok, detail=''):
    print('%s %s%s' % ('PASS' if ok else 'FAIL', name, (': ' + str(detail)) if detail and not ok else ''))
    if not ok:
        failures.append(name)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


tmp = tempfile.mkdtemp(prefix='kiln-beam-')
tiny = os.path.abspath(os.path.join(src, 'models', 'tiny'))
xml = open(os.path.join(tiny, 'model.xml')).read()
assert '<dim name="batch" max="1"/>' in xml
open(os.path.join(tmp, 'model.xml'), 'w').write(xml.replace('<dim name="batch" max="1"/>', '<dim name="batch" max="4"/>'))
for f in os.listdir(tiny):
    if f != 'model.xml':
        os.symlink(os.path.join(tiny, f), os.path.join(tmp, f))
model, exe = os.path.join(tmp, 'model.xml'), os.path.join(tmp, 'tiny4')
rc, _, err = run([kiln, 'compile', model, '-o', exe, '-q'])
check('compile tiny with batch 4', rc == 0, err)
if rc != 0:
    sys.exit(1)

PROMPT, MAX_LEN = 'And God said', 6
EOS = int(re.search(r'<param name="eos" value="(\d+)"/>', xml).group(1))


def ids_of(err, label):
    line = [l for l in err.splitlines() if l.startswith(label)][0]
    return [int(x) for x in line.split(':', 1)[1].split(',') if x.strip()]


rc, out, err = run([exe, '-p', PROMPT, '-n', str(MAX_LEN), '--show-ids'])
prompt, greedy = ids_of(err, 'prompt ids'), ids_of(err, 'generated ids')
rc, out, err = run([exe, '-p', PROMPT, '-n', str(MAX_LEN), '--show-ids', '--beam', '1'])
check('--beam 1 gives the greedy ids', rc == 0 and ids_of(err, 'generated ids') == greedy, err)

cache = {}


def logprobs(prefix):
    key = tuple(prefix)
    if key not in cache:
        f = os.path.join(tmp, 'l.f32')
        rc, _, err = run([kiln, 'run', model, '--tokens', ','.join(map(str, prefix)), '--logits', f])
        if rc != 0:
            raise SystemExit('kiln run failed: ' + err)
        b = open(f, 'rb').read()
        n = len(b) // 4
        x = struct.unpack('<%df' % n, b)
        vocab = n // len(prefix)
        row = x[-vocab:]
        top = max(row)
        lse = top + math.log(sum(math.exp(v - top) for v in row))
        cache[key] = [v - lse for v in row]
    return cache[key]


def beam(n, alpha, eos=None):
    live, finished = [([], 0.0)], []
    for _ in range(MAX_LEN):
        cands = []
        for hi, (h, s) in enumerate(live):
            lp = logprobs(prompt + h)
            cands += [(s + lp[t], hi, t) for t in range(len(lp))]
        cands.sort(key=lambda c: (-c[0], c[1], c[2]))
        new = []
        for score, hi, t in cands[:2 * n]:
            ids = live[hi][0] + [t]
            if t == eos:
                finished.append((ids, score / (len(ids) ** alpha)))
            else:
                new.append((ids, score))
                if len(new) == n:
                    break
        live = new
        if len(finished) >= n and (not live or max(f[1] for f in finished) >=
                                   max(s for _, s in live) / (MAX_LEN ** alpha)):
            break
    else:
        for ids, s in live:
            finished.append((ids, s / (len(ids) ** alpha)))
    best = finished[0]
    for f in finished[1:]:
        if f[1] > best[1]:
            best = f
    return best


rc, out, _ = run([exe, '--version'])
for n, alpha in ((2, 1.0), (3, 0.6), (4, 1.0)):
    rc, out, err = run([exe, '-p', PROMPT, '-n', str(MAX_LEN), '--show-ids', '--beam', str(n),
                        '--length-penalty', str(alpha)])
    if rc != 0:
        check('--beam %d runs' % n, False, err)
        continue
    got = ids_of(err, 'generated ids')
    score = float([l for l in err.splitlines() if l.startswith('beam score')][0].split(':')[1])
    want, want_score = beam(n, alpha, eos=EOS)
    check('--beam %d --length-penalty %g: the reference search\'s ids %s' % (n, alpha, want), got == want,
          'got %s' % got)
    check('--beam %d --length-penalty %g: its score %.6f' % (n, alpha, want_score), abs(score - want_score) < 1e-4,
          'got %.6f' % score)
    check('--beam %d prints the prompt and the continuation' % n, out.startswith(PROMPT) and len(out) > len(PROMPT) + 2,
          out)

for name, args, want in (
        ('width over the batch bound', ['--beam', '5'], 'runs at most 4 sequences per call'),
        ('with sampling options', ['--beam', '2', '--temperature', '0.8'], 'are for sampling'),
        ('--length-penalty without --beam', ['--length-penalty', '0.5'], '--length-penalty is for --beam N'),
        ('width 0', ['--beam', '0'], '--beam 0 is out of range')):
    rc, out, err = run([exe, '-p', PROMPT] + args)
    check('refused: %s (exit 2)' % name, rc == 2 and want in err, 'rc %d: %s' % (rc, err))

shutil.rmtree(tmp)
print('%d checks failed' % len(failures) if failures else 'all checks passed')
sys.exit(1 if failures else 0)
