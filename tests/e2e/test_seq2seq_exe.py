#!/usr/bin/env python3
"""test_seq2seq_exe.py KILN SOURCE [--target aarch64-linux-gnu] — the encoder-decoder executable.

The model is models/seq2seq-numbers (trained by scripts/train_seq2seq.py: digits -> English
words). reference.json holds, for 43 sources (30 held-out numbers, 13 outside the training
distribution), the answers of the script's own greedy decoder and beam decoder with the
bounded stop of runtime/beam.h (`beam_bounded_stop`: N = 2 and 4, alpha 0.6 and 1.0; PyTorch,
float64): the executable must give exactly the same token ids for every one (--src-tokens,
--show-ids, -n the reference's max_len) and the same normalized score (within 1e-4). Then through the tokenizer: --translate TEXT prints the
reference's text; -f FILE translates every line, one out per line in; --bleu REF prints the
corpus BLEU of those lines, which must equal the score computed here in Python (Papineni et
al.: clipped n-gram precisions 1..4, geometric mean, brevity penalty). Bad input: empty line,
invalid UTF-8, a character outside the vocabulary, a source over the model's positions,
beam width 0 or over the batch bound, --bleu with too few or too many references.
With --target aarch64-linux-gnu the executable runs under qemu (a subset of the cases)."""
import argparse
import collections
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument('kiln')
ap.add_argument('source')
ap.add_argument('--target')
args = ap.parse_args()
kiln = os.path.abspath(args.kiln)
model_dir = os.path.join(args.source, 'models', 'seq2seq-numbers')
runner, target = [], []
if args.target:
    if not shutil.which('qemu-aarch64') or not shutil.which('aarch64-linux-gnu-gcc'):
        print('skipped: qemu-aarch64 or aarch64-linux-gnu-gcc is not installed')
        sys.exit(77)
    runner = ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu']
    target = ['--target', args.target]
failures = []


def check(name, ok, detail=''):
    print('%s %s%s' % ('PASS' if ok else 'FAIL', name, (': ' + str(detail)) if detail and not ok else ''))
    if not ok:
        failures.append(name)


def run(cmd, stdin=b''):
    p = subprocess.run(runner + cmd, input=stdin, capture_output=True, timeout=600)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


tmp = tempfile.mkdtemp(prefix='kiln-s2s-')
exe = os.path.join(tmp, 'numbers')
p = subprocess.run([kiln, 'compile', os.path.join(model_dir, 'model.xml'), '-o', exe, '-q'] + target,
                   capture_output=True, text=True)
check('compile models/seq2seq-numbers', p.returncode == 0, p.stderr)
if p.returncode != 0:
    sys.exit(1)
ref = json.load(open(os.path.join(model_dir, 'reference.json')))
cases = ref['cases']
if args.target:     # under qemu: a few, and those whose beam answers differ from greedy
    cases = cases[:4] + [c for c in cases[4:] if any(b['ids'] != c['greedy']['ids'] for b in c['beam_bounded_stop'])][:2]


def answer(err):
    line = [l for l in err.splitlines() if l.startswith('ids:')][0]
    ids = [int(x) for x in line.split()[1].split(',')]
    return ids, float(line.split('(score ')[1].rstrip(')'))


# ---- every answer of the script's decoders, from the source ids ----
same = 0
for c in cases:
    src = ','.join(map(str, c['source_ids']))
    runs = [('greedy', [], c['greedy']['ids'], None)]
    runs += [('beam %d alpha %g' % (b['n'], b['alpha']), ['--beam', str(b['n']), '--length-penalty', str(b['alpha'])],
              b['ids'], b['score']) for b in c['beam_bounded_stop']]
    for name, extra, want, score in runs:
        rc, out, err = run([exe, '--src-tokens', src, '--show-ids', '-n', str(ref['max_len'])] + extra)
        if rc != 0:
            check('%s %s runs' % (c['source'], name), False, err)
            continue
        got, got_score = answer(err)
        ok = got == want and (score is None or abs(got_score - score) < 1e-4)
        same += ok
        if not ok:
            check('%s %s: ids %s score %s' % (c['source'], name, want, score), False, 'got %s %s' % (got, got_score))
total = sum(1 + len(c['beam_bounded_stop']) for c in cases)
check('all %d answers (greedy and beam) equal the script\'s, ids and scores' % total, same == total,
      '%d of %d' % (same, total))
check('the answers include beam results that differ from greedy',
      any(b['ids'] != c['greedy']['ids'] for c in cases for b in c['beam_bounded_stop']))

# ---- text in, text out, BLEU ----
c0 = cases[0]
rc, out, err = run([exe, '--translate', c0['source'], '-n', str(ref['max_len'])])
check('--translate %r prints %r' % (c0['source'], c0['greedy']['text']), rc == 0 and out == c0['greedy']['text'] + '\n',
      out + err)
lines = [c for c in cases if c['target']][:10]
src_file, ref_file = os.path.join(tmp, 'src.txt'), os.path.join(tmp, 'ref.txt')
open(src_file, 'w').write(''.join(c['source'] + '\n' for c in lines))
open(ref_file, 'w').write(''.join(c['target'] + '\n' for c in lines))
rc, out, err = run([exe, '-f', src_file, '--beam', '4', '--length-penalty', '0.6', '--bleu', ref_file, '--stats',
                    '-n', str(ref['max_len'])])
want = [[b for b in c['beam_bounded_stop'] if b['n'] == 4 and b['alpha'] == 0.6][0]['text'] for c in lines]
check('-f FILE --beam 4: one translation per line, the script\'s', rc == 0 and out.splitlines() == want,
      'rc %d: %r %s' % (rc, out.splitlines()[:3], err))
rc2, out2, _ = run([exe, '--beam', '4', '--length-penalty', '0.6', '-n', str(ref['max_len'])],
                   stdin=open(src_file, 'rb').read())
check('standard input gives the same as -f', rc2 == 0 and out2 == out)


def bleu(hyps, refs):
    match, total = [0] * 4, [0] * 4
    c = r = 0
    for h, rf in zip(hyps, refs):
        h, rf = h.split(), rf.split()
        c, r = c + len(h), r + len(rf)
        for n in range(1, 5):
            hc = collections.Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            rc_ = collections.Counter(tuple(rf[i:i + n]) for i in range(len(rf) - n + 1))
            match[n - 1] += sum(min(k, rc_[g]) for g, k in hc.items())
            total[n - 1] += max(len(h) - n + 1, 0)
    if min(match) == 0:
        return 0.0
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return bp * math.exp(sum(math.log(m / t) for m, t in zip(match, total)) / 4)


want_bleu = 100 * bleu(want, [c['target'] for c in lines])
line = [l for l in err.splitlines() if l.startswith('BLEU = ')]
got_bleu = float(line[0].split()[2].rstrip(',')) if line else None
check('--bleu prints the corpus BLEU computed here (%.2f)' % want_bleu,
      got_bleu is not None and abs(got_bleu - want_bleu) < 0.006, err)
check('--stats counts the sentences', 'translate: %d sentences' % len(lines) in err, err)

# ---- bad input ----
open(os.path.join(tmp, 'short.txt'), 'w').write('one\n')
bad = [
    ('empty line', ['-f', '-'], b'12\n\n34\n', 1, 'standard input line 2 is empty'),
    ('invalid UTF-8', ['-f', '-'], b'12\n3\xff4\n', 1, 'line 2 is not valid UTF-8'),
    ('a character outside the vocabulary', ['--translate', '12#4'], b'', 1, 'cannot be tokenized'),
    ('a source over the positions', ['--translate', '1' * 200], b'', 1, 'more than the model\'s 96 source positions'),
    ('beam width 0', ['--translate', '12', '--beam', '0'], b'', 2, '--beam 0 is out of range'),
    ('beam width over the batch bound', ['--translate', '12', '--beam', '33'], b'', 2, '--beam 33 is out of range (1 to 32)'),
    ('--bleu with too few references', ['-f', src_file, '--bleu', os.path.join(tmp, 'short.txt')], b'', 1,
     'has fewer lines than the sources'),
    ('--bleu with --translate', ['--translate', '12', '--bleu', ref_file], b'', 2, '--bleu scores the lines'),
    ('--src-tokens out of range', ['--src-tokens', '4,40'], b'', 1, 'is out of range: the model has 40 tokens'),
]
for name, cmd, stdin, want_rc, want_msg in bad:
    rc, out, err = run([exe] + cmd, stdin)
    check('bad input: %s (exit %d)' % (name, want_rc), rc == want_rc and want_msg in err,
          'rc %d, stderr %r' % (rc, err))

shutil.rmtree(tmp)
print('%d checks failed' % len(failures) if failures else 'all checks passed')
sys.exit(1 if failures else 0)
