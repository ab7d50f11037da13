#!/usr/bin/env python3
"""test_encoder_exe.py KILN SOURCE [--target aarch64-linux-gnu] — executables of encoder models.

The model is tests/ref/bert (random weights, batch up to 2, 16 positions), whose expected
hidden states come from PyTorch (tests/ref/make_refs.py); and the same model with the 50-token
WordPiece vocabulary of tests/tokenizer (bert_wordpiece.xml). The other encoder families of
tests/ref (albert, electra, distilbert) are run the same way, every output they have
(logits, hidden, replaced) against PyTorch. models/bert-tiny (trained): --fill-mask gives the
top 5 of its training script's reference.json (words in order, probabilities as printed),
--tokens --logits its logits, and --selftest passes (fails when compiled with a perturbed
expectation).

--tokens/--token-types --hidden: each input of tests/ref/bert/inputs.safetensors run alone
(its valid tokens, batch 1) gives PyTorch's hidden states at those positions (the reference
row 1 is padded in a batch of 2, so this also checks that padding changes nothing), at -t 1
and -t 2 byte-identically.
--embed: lines whose WordPiece ids are worked out by hand from the vocabulary file
(wordpiece_vocab50.txt: [CLS]=2 [SEP]=3 a=5 the=40 play=39 ##ing=33 hello=41 world=42) go in
batches of 2 padded to the longest; each printed vector must be the mean (or with --pool cls,
row 0) of that line's hidden states from its own unpadded --tokens run. A line over the 16
positions is cut to its first 15 tokens and [SEP], with a note.
Bad input: empty line, invalid UTF-8, too many tokens, token types out of range or miscounted,
a mode the model cannot serve, no mode or two: each a clear message and exit 1 (input) or 2
(command line).
With --target aarch64-linux-gnu everything runs under qemu (skipped, 77, without it)."""
import argparse
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
ap = argparse.ArgumentParser()
ap.add_argument('kiln')
ap.add_argument('source')
ap.add_argument('--target')
args = ap.parse_args()
sys.path.insert(0, os.path.join(args.source, 'tests', 'ref'))
import safetensors_io as st  # noqa: E402

kiln = os.path.abspath(args.kiln)
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


def run(cmd, stdin=None, timeout=300):
    p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def floats(path):
    b = open(path, 'rb').read()
    return list(struct.unpack('<%df' % (len(b) // 4), b))


def close(got, ref, tol=1e-4):
    if len(got) != len(ref):
        return False, 'length %d, expected %d' % (len(got), len(ref))
    scale = max(abs(x) for x in ref) or 1.0
    worst = max(abs(a - b) for a, b in zip(got, ref))
    return worst <= tol * scale, 'max |diff| %.3g, scale %.3g' % (worst, scale)


tmp = tempfile.mkdtemp(prefix='kiln-encoder-')
bert = os.path.join(tmp, 'bert')
words = os.path.join(tmp, 'words')
for out, xml in ((bert, 'tests/ref/bert/model.xml'), (words, 'tests/tokenizer/bert_wordpiece.xml')):
    rc, _, err = run([kiln, 'compile', os.path.join(args.source, xml), '-o', out, '-q'] + target)
    check('compile ' + xml, rc == 0, err)
if failures:
    sys.exit(1)

rc, out, err = run(runner + [bert, '--version'])
check('--version names the encoder, its inputs and outputs',
      rc == 0 and 'encoder:' in out and 'inputs tokens, token_types, valid; outputs hidden, pooled' in out, out + err)
rc, out, err = run(runner + [bert, '--help'])
check('--help describes the encoder modes', rc == 0 and '--fill-mask' in out and '--embed' in out and
      'outputs hidden, pooled' in out, out + err)

# ---- --tokens --hidden against PyTorch ----
inp = st.read(os.path.join(args.source, 'tests/ref/bert/inputs.safetensors'))
exp = st.read(os.path.join(args.source, 'tests/ref/bert/expected.safetensors'))


def ints(t):
    return list(struct.unpack('<%di' % (len(t[2]) // 4), t[2]))


(B, S), D = inp['tokens'][1], exp['hidden'][1][2]
tok, typ, val = ints(inp['tokens']), ints(inp['token_types']), ints(inp['valid'])
hid = list(struct.unpack('<%df' % (len(exp['hidden'][2]) // 4), exp['hidden'][2]))
for b in range(B):
    n = sum(val[b * S:(b + 1) * S])
    ids, types = tok[b * S:b * S + n], typ[b * S:b * S + n]
    outs = []
    for t in ('1', '2'):
        h = os.path.join(tmp, 'h%d-%s.f32' % (b, t))
        rc, out, err = run(runner + [bert, '--tokens', ','.join(map(str, ids)), '--token-types',
                                     ','.join(map(str, types)), '--hidden', h, '-t', t])
        check('input %d -t %s runs' % (b, t), rc == 0, err)
        outs.append(open(h, 'rb').read() if rc == 0 else b'')
    if outs[0]:
        ok, why = close(floats(os.path.join(tmp, 'h%d-1.f32' % b)), hid[b * S * D:(b * S + n) * D])
        check('input %d (%d tokens): hidden states match PyTorch' % (b, n), ok, why)
    check('input %d: -t 1 and -t 2 give identical bytes' % b, outs[0] == outs[1] and outs[0])

# ---- models/bert-tiny (trained): fill-mask and logits against its training script ----
bt_dir = os.path.join(args.source, 'models', 'bert-tiny')
bt = os.path.join(tmp, 'bert-tiny')
rc, _, err = run([kiln, 'compile', os.path.join(bt_dir, 'model.xml'), '-o', bt, '-q'] + target)
check('compile models/bert-tiny', rc == 0, err)
if rc == 0:
    import json
    ref = json.load(open(os.path.join(bt_dir, 'reference.json')))
    for case in ref['fill_mask']:
        rc, out, err = run(runner + [bt, '--fill-mask', case['text']])
        rows = [l.split() for l in out.splitlines()[1:]]
        got = [(w, float(p)) for p, w in rows] if rc == 0 else []
        ok = len(got) == 5 and [w for w, _ in got] == [w for w, _ in case['top5']] and \
            all(abs(p - q) < 6e-5 for (_, p), (_, q) in zip(got, case['top5']))
        check('bert-tiny --fill-mask %r: the script\'s top 5' % case['text'][:40], ok,
              'got %s, want %s %s' % (got, case['top5'], err))
    ti, te = st.read(os.path.join(bt_dir, 'inputs.safetensors')), st.read(os.path.join(bt_dir, 'expected.safetensors'))
    (tb, ts), tv = ti['tokens'][1], te['logits'][1][2]
    ttok, ttyp, tval = ints(ti['tokens']), ints(ti['token_types']), ints(ti['valid'])
    tlog = list(struct.unpack('<%df' % (len(te['logits'][2]) // 4), te['logits'][2]))
    for b in range(tb):
        n = sum(tval[b * ts:(b + 1) * ts])
        f = os.path.join(tmp, 'bt-%d.f32' % b)
        rc, _, err = run(runner + [bt, '--tokens', ','.join(map(str, ttok[b * ts:b * ts + n])), '--token-types',
                                   ','.join(map(str, ttyp[b * ts:b * ts + n])), '--logits', f])
        ok, why = close(floats(f), tlog[b * ts * tv:(b * ts + n) * tv]) if rc == 0 else (False, err)
        check('bert-tiny input %d (%d tokens): logits match the script' % (b, n), ok, why)

    rc, out, err = run(runner + [bt, '--fill-mask', 'and god said unto moses'])
    check('bert-tiny --fill-mask without [MASK]: exit 1 and how to write it',
          rc == 1 and 'the text has no [MASK]' in err and out == '', 'rc %d: %s' % (rc, err))
    rc, out, err = run(runner + [bt, '--fill-mask', ' '.join(['god'] * 70) + ' [MASK]'])
    check('bert-tiny --fill-mask over the positions: exit 1, refused', rc == 1 and 'more than the model\'s 64 positions'
          in err, 'rc %d: %s' % (rc, err))
    rc, out, err = run(runner + [bt, '--selftest'])
    check('bert-tiny without a selftest: exit 2 and how to get one', rc == 2 and 'kiln compile --selftest' in err, err)
    for extra, want_rc, want in ((['--selftest'], 0, 'selftest: ok'),
                                 (['--selftest', '--selftest-perturb=0.5'], 1, 'selftest: FAILED')):
        st_exe = os.path.join(tmp, 'bert-tiny-selftest')
        rc, _, err = run([kiln, 'compile', os.path.join(bt_dir, 'model.xml'), '-o', st_exe, '-q'] + target + extra)
        rc, out, err = run(runner + [st_exe, '--selftest']) if rc == 0 else (rc, '', err)
        check('bert-tiny compiled with %s: --selftest exits %d' % (' '.join(extra), want_rc),
              rc == want_rc and want in out, 'rc %d: %s%s' % (rc, out, err))

# ---- every encoder family of tests/ref: each output of each input alone, against PyTorch ----
for case in ('albert', 'electra', 'distilbert'):
    d = os.path.join(args.source, 'tests', 'ref', case)
    exe = os.path.join(tmp, case)
    rc, _, err = run([kiln, 'compile', os.path.join(d, 'model.xml'), '-o', exe, '-q'] + target)
    check('compile tests/ref/%s' % case, rc == 0, err)
    if rc != 0:
        continue
    ci, ce = st.read(os.path.join(d, 'inputs.safetensors')), st.read(os.path.join(d, 'expected.safetensors'))
    (cb, cs) = ci['tokens'][1]
    ctok, cval = ints(ci['tokens']), ints(ci['valid'])
    ctyp = ints(ci['token_types']) if 'token_types' in ci else None
    for b in range(cb):
        n = sum(cval[b * cs:(b + 1) * cs])
        cmd = [exe, '--tokens', ','.join(map(str, ctok[b * cs:b * cs + n]))]
        if ctyp:
            cmd += ['--token-types', ','.join(map(str, ctyp[b * cs:b * cs + n]))]
        for name in ('logits', 'hidden', 'replaced'):
            if name not in ce:
                continue
            f = os.path.join(tmp, '%s-%d-%s.f32' % (case, b, name))
            rc, _, err = run(runner + cmd + ['--' + name, f])
            shape = ce[name][1]
            row = 1
            for k in shape[2:]:
                row *= k
            ref = list(struct.unpack('<%df' % (len(ce[name][2]) // 4), ce[name][2]))[b * cs * row:(b * cs + n) * row]
            ok, why = close(floats(f), ref) if rc == 0 else (False, err)
            check('%s input %d (%d tokens): %s matches PyTorch' % (case, b, n, name), ok, why)

# ---- --detect-replaced: ELECTRA's discriminator with the 50-token vocabulary of tests/tokenizer ----
exml = open(os.path.join(args.source, 'tests', 'ref', 'electra', 'model.xml')).read()
wfile = os.path.abspath(os.path.join(args.source, 'tests', 'ref', 'electra', 'weights.safetensors'))
vfile = os.path.abspath(os.path.join(args.source, 'tests', 'tokenizer', 'wordpiece_vocab50.txt'))
exml = exml.replace('<weights file="weights.safetensors"/>', '<weights file="%s"/>\n  <tokenizer kind="wordpiece" '
                    'file="%s"/>' % (wfile, vfile))
open(os.path.join(tmp, 'electra.xml'), 'w').write(exml)
electra = os.path.join(tmp, 'electra-words')
rc, _, err = run([kiln, 'compile', os.path.join(tmp, 'electra.xml'), '-o', electra, '-q'] + target)
check('compile tests/ref/electra with a WordPiece vocabulary', rc == 0, err)
if rc == 0:
    rc, out, err = run(runner + [electra, '--detect-replaced', 'hello world the'])
    rows = [l.split() for l in out.splitlines()]
    f = os.path.join(tmp, 'replaced.f32')
    rc2, _, err2 = run(runner + [electra, '--tokens', '2,41,42,40,3', '--replaced', f])
    want = [1 / (1 + math.exp(-x)) for x in floats(f)] if rc2 == 0 else []
    ok = rc == 0 and len(rows) == 5 and [r[2] for r in rows] == ['[CLS]', 'hello', 'world', 'the', '[SEP]'] and \
        all(abs(float(r[0]) - p) < 6e-5 and r[1] == ('replaced' if p > 0.5 else 'original') for r, p in zip(rows, want))
    check('--detect-replaced: per token the sigmoid of replaced, and the verdict', ok, '%s %s %s' % (out, err, err2))

# ---- --embed: batched and padded vs each line alone ----
lines = [('hello world', [2, 41, 42, 3]),
         ('the playing a', [2, 40, 39, 33, 5, 3]),
         ('world', [2, 42, 3]),
         (' '.join(['a'] * 20), [2] + [5] * 14 + [3])]    # cut: 22 tokens, 16 positions


def alone(ids):
    h = os.path.join(tmp, 'alone.f32')
    rc, _, err = run(runner + [words, '--tokens', ','.join(map(str, ids)), '--hidden', h])
    if rc != 0:
        return None
    x = floats(h)
    return [x[i * D:(i + 1) * D] for i in range(len(ids))]


text = ''.join(l + '\n' for l, _ in lines).encode()
for pool in ('mean', 'cls'):
    rc, out, err = run(runner + [words, '--embed', '--pool', pool, '--stats'], stdin=text)
    got = [list(map(float, row.split())) for row in out.splitlines()]
    check('--embed --pool %s: one vector of %d per line' % (pool, D),
          rc == 0 and len(got) == len(lines) and all(len(g) == D for g in got), err + out[:200])
    check('--embed: 4 lines in 2 calls of at most 2', 'encode: 2 calls, 4 inputs' in err, err)
    check('--embed: the long line is cut, with a note', 'line 4 has 22 tokens; kept the first 15 and [SEP]' in err, err)
    for i, (line, ids) in enumerate(lines):
        rows = alone(ids)
        if rows is None or len(got) <= i:
            check('line %d alone' % (i + 1), False)
            continue
        want = rows[0] if pool == 'cls' else [sum(r[c] for r in rows) / len(rows) for c in range(D)]
        ok, why = close(got[i], want)
        check('--embed --pool %s line %d %r equals its own run' % (pool, i + 1, line[:20]), ok, why)
rc, out, err = run(runner + [words, '--embed', '-f', os.path.join(tmp, 'missing.txt')])
check('--embed -f missing file: exit 1 naming it', rc == 1 and 'missing.txt' in err, err)
path = os.path.join(tmp, 'lines.txt')
open(path, 'wb').write(text)
rc, out2, err = run(runner + [words, '--embed', '-f', path])
rc0, out0, _ = run(runner + [words, '--embed'], stdin=text)
check('--embed -f FILE equals standard input', rc == 0 and out2 == out0, err)

# ---- bad input ----
bad = [
    ('empty line', [words, '--embed'], b'hello\n\nworld\n', 1, 'standard input line 2 is empty'),
    ('invalid UTF-8', [words, '--embed'], b'hello\nwor\xffld\n', 1, 'line 2 is not valid UTF-8: byte 3 (0xff)'),
    ('no lines', [words, '--embed'], b'', 1, 'has no lines to embed'),
    ('fill-mask without an MLM head', [words, '--fill-mask', 'the [MASK]'], None, 1, 'needs the output logits'),
    ('detect-replaced without a discriminator', [words, '--detect-replaced', 'the'], None, 1, 'needs the output replaced'),
    ('--logits without logits', [bert, '--tokens', '1,2', '--logits', os.path.join(tmp, 'l')], None, 1,
     'this model gives no logits'),
    ('too many tokens', [bert, '--tokens', ','.join(['1'] * 17), '--hidden', os.path.join(tmp, 'x')], None, 1,
     '17 tokens are more than the model\'s 16 positions'),
    ('token id out of range', [bert, '--tokens', '1,50', '--hidden', os.path.join(tmp, 'x')], None, 1,
     '--tokens: 50 (position 1) is out of range: the model has 50 tokens'),
    ('token type out of range', [bert, '--tokens', '1,2', '--token-types', '0,2', '--hidden', os.path.join(tmp, 'x')],
     None, 1, '--token-types: 2 (position 1) is out of range: the model has 2 token types'),
    ('token types miscounted', [bert, '--tokens', '1,2', '--token-types', '0', '--hidden', os.path.join(tmp, 'x')],
     None, 1, '--token-types has 1 values for 2 tokens'),
    ('no mode', [bert], None, 2, 'give a mode'),
    ('two modes', [words, '--embed', '--fill-mask', 'x'], None, 2, 'give one mode'),
    ('--tokens without an output file', [bert, '--tokens', '1'], None, 2, '--tokens needs --logits FILE, --hidden FILE or --replaced FILE'),
    ('--top-k without --fill-mask', [words, '--embed', '--top-k', '3'], None, 2, '--top-k is for --fill-mask'),
    ('--pool value', [words, '--embed', '--pool', 'max'], None, 2, '--pool is mean or cls'),
    ('text without a tokenizer', [bert, '--fill-mask', 'x'], None, 1, 'this model has no tokenizer'),
]
for name, cmd, stdin, want_rc, want in bad:
    rc, out, err = run(runner + cmd, stdin=stdin if stdin is not None else b'')
    check('bad input: %s (exit %d)' % (name, want_rc), rc == want_rc and want in err and out == '',
          'rc %d, stdout %r, stderr %r' % (rc, out[:100], err))

shutil.rmtree(tmp)
print('%d checks failed' % len(failures) if failures else 'all checks passed')
sys.exit(1 if failures else 0)
