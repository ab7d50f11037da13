#!/usr/bin/env python3
"""test_runtime.py — the produced executables' runtime, with the fake bigram model.

    test_runtime.py EXE EXE_EXT WEIGHTS SHIM SOURCE
    test_runtime.py --aarch64 HOST_EXE AARCH64_EXE QEMU     (exit 77 when either is '')

EXE is tests/runtime/fake_model.c linked with libkiln_rt-<host>.a, EXE_EXT the same with its
weights in a side file, WEIGHTS that file (the (vocab, vocab) float32 table of logits that
make_blob.c wrote: row a is what follows token a), SHIM the malloc-counting LD_PRELOAD
module. Expected outputs come from the table read here and from models/tiny's vocab.json
(GPT-2 byte-level tokens), not from kiln: greedy is the arg-max of each row (lowest id on
ties), the repetition penalty llama.cpp's rule over the last 64 tokens."""
import array
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import tempfile

failures = []
CTX = 64            # fake_model.c's max_positions


def check(name, cond, detail=''):
    print('%s %s%s' % ('PASS' if cond else 'FAIL', name, (': ' + str(detail)[:400]) if detail and not cond else ''))
    if not cond:
        failures.append(name)


def run(cmd, *args, stdin=b'', env=None, timeout=60):
    p = subprocess.run(list(cmd) + [a if isinstance(a, bytes) else str(a) for a in args], input=stdin,
                       capture_output=True, env=env, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode('utf-8', 'replace')


def ids_of(err, label):
    for line in err.splitlines():
        if line.startswith(label + ':'):
            rest = line[len(label) + 1:].strip()
            return [int(x) for x in rest.split(',')] if rest else []
    return None


def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def aarch64_main(host_exe, a64_exe, qemu):
    if not a64_exe or not qemu:
        print('SKIP: needs aarch64-linux-gnu-gcc and qemu-aarch64')
        sys.exit(77)
    q = [qemu, '-L', '/usr/aarch64-linux-gnu', a64_exe]
    prompt = 'In the beginning God created'
    rc, out, err = run(q, '-p', prompt, '-n', 20, '--show-ids', timeout=120)
    hrc, hout, herr = run([host_exe], '-p', prompt, '-n', 20, '--show-ids')
    check('aarch64 greedy run exits 0', rc == 0, err)
    check('aarch64 greedy output equals the host one', (out, ids_of(err, 'generated ids')) ==
          (hout, ids_of(herr, 'generated ids')), '%r vs %r' % (out, hout))
    rc, out, err = run(q, '--version', timeout=120)
    check('aarch64 --version names the target', rc == 0 and b'aarch64' in out, out)
    sys.exit(1 if failures else 0)


if sys.argv[1] == '--aarch64':
    aarch64_main(*sys.argv[2:5])

exe, exe_ext, weights_path, shim, src = [os.path.abspath(a) for a in sys.argv[1:6]]
E = [exe]
table = array.array('f')
with open(weights_path, 'rb') as f:
    table.frombytes(f.read())
V = int(round(len(table) ** 0.5))
assert V * V == len(table)
vocab = json.load(open(os.path.join(src, 'models', 'tiny', 'vocab.json'), encoding='utf-8'))
assert len(vocab) == V
decoder = {c: b for b, c in bytes_to_unicode().items()}
piece = [b''] * V
for s, i in vocab.items():
    piece[i] = bytes(decoder[c] for c in s)
BYTE = {b: vocab[bytes_to_unicode()[b]] for b in range(256)}
EOS = vocab['<|endoftext|>']
ref = json.load(open(os.path.join(src, 'models', 'tiny', 'reference.json'), encoding='utf-8'))


def f32(x):
    return struct.unpack('f', struct.pack('f', x))[0]


def row(a):
    return table[a * V:(a + 1) * V]


def greedy(prompt_ids, n, penalty=1.0, ctx=CTX):
    """The generated ids: arg-max of the penalized row of the last token."""
    seq, gen = list(prompt_ids), []
    while len(gen) < n and len(seq) <= ctx:      # the last new token is never fed
        logits = list(row(seq[-1]))
        if penalty != 1.0:
            for t in set(seq[-64:]):
                logits[t] = f32(logits[t] / penalty) if logits[t] > 0 else f32(logits[t] * penalty)
        best = max(range(V), key=lambda i: (logits[i], -i))
        if best == EOS:
            break
        gen.append(best)
        seq.append(best)
    return gen


def text_of(ids):
    return b''.join(piece[i] for i in ids)


def expect(name, args, want_stdout, rc_want=0, stdin=b''):
    rc, out, err = run(E, *args, stdin=stdin)
    check(name, rc == rc_want and out == want_stdout, 'exit %d, stdout %r, want %r; %s' % (rc, out, want_stdout, err))
    return err


def expect_error(name, args, rc_want, words, cmd=None, stdin=b'', env=None):
    rc, out, err = run(cmd or E, *args, stdin=stdin, env=env)
    ok = rc == rc_want and all(w in err for w in words) and 'Traceback' not in err and rc >= 0
    check(name, ok, 'exit %d, stderr %r' % (rc, err))


# ---- generation ---------------------------------------------------------------------------
case = ref['prompts'][0]
gen = greedy(case['prompt_ids'], 10)
rc, out, err = run(E, '-p', case['prompt'], '-n', 10, '--show-ids')
check('prompt ids of %r (prefill in calls of max_seq = 4)' % case['prompt'],
      ids_of(err, 'prompt ids') == case['prompt_ids'], err)
check('greedy ids follow the bigram table', ids_of(err, 'generated ids') == gen, '%s vs %s' % (ids_of(err, 'generated ids'), gen))
check('greedy text: the prompt, then the generated text', rc == 0 and out == case['prompt'].encode() + text_of(gen) + b'\n', out)

expect('greedy "$" -n 5', ['-p', '$', '-n', 5], b'$abcde\n')
expect('"-n5" and "--temperature=0" forms', ['-p$', '-n5', '--temperature=0'], b'$abcde\n')
err = expect('eos ends generation ("#" -> C3 A9 "!" eos)', ['-p', '#', '--show-ids'], '#é!\n'.encode())
check('eos is not among the generated ids', ids_of(err, 'generated ids') == [BYTE[0xC3], BYTE[0xA9], BYTE[ord('!')]], err)
expect('a character split over two tokens is held until complete', ['-p', '#', '-n', 2], '#é\n'.encode())
expect('an incomplete character at the end becomes U+FFFD', ['-p', '#', '-n', 1], '#\ufffd\n'.encode())
expect('invalid sequences become U+FFFD (maximal subparts)', ['-p', '%'], '%\ufffdA\ufffd?\n'.encode())
expect('a 4-byte character cut by eos becomes one U+FFFD', ['-p', '&'], '&\ufffd\n'.encode())
for p in ('#', '%', '&'):
    rc, out, err = run(E, '-p', p)
    try:
        out.decode('utf-8')
        valid = True
    except UnicodeDecodeError:
        valid = False
    check('output of %r is valid UTF-8' % p, valid, out)

# stop strings
expect('--stop across tokens', ['-p', '$', '--stop', 'fgh'], b'$abcde\n')
expect('--stop of one character', ['-p', '$', '--stop', 'e'], b'$abcd\n')
expect('--stop given twice: the first reached wins', ['-p', '$', '--stop', 'xyz', '--stop', 'cd'], b'$ab\n')
expect('text held for a stop string is flushed at the end', ['-p', '$', '-n', 9, '--stop', 'ijk'], b'$abcdefghi\n')
expect('a stop string in the prompt does not count', ['-p', '$', '-n', 5, '--stop', '$'], b'$abcde\n')
expect('--stop of a multi-byte character', ['-p', '#', '--stop', 'é'], b'#\n')
expect('--stop=STRING form', ['-p', '$', '--stop=c'], b'$ab\n')

# context
letters = bytes(ord('a') + i % 26 for i in range(CTX))
err = expect('the context stops generation (default -n 256)', ['-p', '$'], b'$' + letters + b'\n')
check('the context message', 'stopped: the context of 64 positions is full' in err, err)
err = expect('--ctx 10 allows 10 new tokens after 1 (the last is never fed)', ['-p', '$', '--ctx', 10], b'$' + letters[:10] + b'\n')
check('the context message names --ctx', 'stopped: the context of 10 positions is full' in err, err)
err = expect('-n reached exactly at the context: no message', ['-p', '$', '--ctx', 6, '-n', 6], b'$abcdef\n')
check('no context message when -n ends first', 'context' not in err, err)
expect('a prompt of 63 tokens leaves room for two', ['-p', '$' * 63], b'$' * 63 + b'ab\n')
expect('a prompt filling the context still gives one token', ['-p', '$' * 64], b'$' * 64 + b'a\n')

# the prompt from a file, stdin, empty
with tempfile.TemporaryDirectory() as tmp:
    pf = os.path.join(tmp, 'prompt.txt')
    open(pf, 'wb').write(b'$')
    expect('-f FILE', ['-f', pf, '-n', 3], b'$abc\n')
    expect('-f - reads standard input', ['-f', '-', '-n', 3], b'$abc\n', stdin=b'$')
    expect('standard input when no -p/-f', ['-n', 3], b'$abc\n', stdin=b'$')
    expect('an empty prompt starts from the start token', ['-p', '', '-n', 3], b'abc\n')
    expect_error('-f of a missing file', ['-f', os.path.join(tmp, 'nope'), '-n', 3], 1, ['cannot read', 'nope'])
    bad = os.path.join(tmp, 'bad.txt')
    open(bad, 'wb').write(b'ab\xffcd')
    expect_error('invalid UTF-8 in -f FILE', ['-f', bad], 1, ['not valid UTF-8', 'byte 2', '0xff'])
    expect_error('invalid UTF-8 on stdin', [], 1, ['not valid UTF-8', 'byte 1'], stdin=b'a\xc3(')
expect_error('invalid UTF-8 in -p', ['-p', b'\xe2\x82'], 1, ['not valid UTF-8', 'byte 0'])
expect_error('a prompt longer than the context', ['-p', '$' * 70], 1, ['70 tokens', 'more than the context of 64'])
expect_error('a prompt longer than --ctx', ['-p', '$' * 8, '--ctx', 5], 1, ['8 tokens', 'context of 5', '--ctx'])
master, slave = pty.openpty()
p = subprocess.run(E, stdin=slave, capture_output=True, timeout=30)
os.close(master)
os.close(slave)
check('no prompt and a terminal on stdin: usage error', p.returncode == 2 and b'no prompt' in p.stderr, p.stderr)

# sampling
a = run(E, '-p', '$', '-n', 30, '--temperature', 1, '--seed', 7)
b = run(E, '-p', '$', '-n', 30, '--temperature', 1, '--seed', 7)
c = run(E, '-p', '$', '-n', 30, '--temperature', 1, '--seed', 8)
check('--seed reproduces a sampled run', a[0] == 0 and a[1] == b[1], (a, b))
check('another seed gives another run', a[1] != c[1], (a[1], c[1]))
check('sampling leaves the greedy path', a[1] != b'$' + letters[:30] + b'\n', a[1])
expect('--top-k 1 is greedy', ['-p', '$', '-n', 30, '--temperature', 1, '--top-k', 1, '--seed', 7], b'$' + letters[:30] + b'\n')
expect('--top-p 0.5 keeps only the top token here (p = 0.62)', ['-p', '$', '-n', 30, '--temperature', 1, '--top-p', 0.5],
       b'$' + letters[:30] + b'\n')
rc, out, err = run(E, '-p', '$', '-n', 30, '--temperature', 0.7, '--top-k', 2, '--top-p', 0.9)
check('sampling without --seed runs', rc == 0 and len(out) > 10, err)

# repetition penalty
plain = greedy([BYTE[ord('(')]], 12)
pen = greedy([BYTE[ord('(')]], 12, penalty=2.0)
check('(the penalty changes the simulated path)', plain != pen, (plain, pen))
err = expect('no penalty: "()()..."', ['-p', '(', '-n', 12, '--show-ids'], b'(' + text_of(plain) + b'\n')
err = expect('--repeat-penalty 2 follows llama.cpp\'s rule', ['-p', '(', '-n', 12, '--repeat-penalty', 2, '--show-ids'],
             b'(' + text_of(pen) + b'\n')
expect('--repeat-penalty 1 is off', ['-p', '(', '-n', 12, '--repeat-penalty', 1], b'(' + text_of(plain) + b'\n')

# ---- logits ---------------------------------------------------------------------------------
with tempfile.TemporaryDirectory() as tmp:
    out_path = os.path.join(tmp, 'logits.f32')
    ids = [1, 2, 3, 4, 5, 6, 7, EOS, 0, 500]
    rc, out, err = run(E, '--tokens', ','.join(map(str, ids)), '--logits', out_path)
    got = array.array('f')
    if rc == 0:
        got.frombytes(open(out_path, 'rb').read())
    want = array.array('f')
    for t in ids:
        want.extend(row(t))
    check('--tokens/--logits: T x vocab float32 rows of the table (3 calls of <= 4)', rc == 0 and got == want,
          'exit %d, %d floats vs %d; %s' % (rc, len(got), len(want), err))
    rc, out, err = run(E, '--tokens', ','.join(['1'] * CTX), '--logits', out_path)
    check('--tokens filling the context', rc == 0 and os.path.getsize(out_path) == CTX * V * 4, err)
    expect_error('--tokens id out of range', ['--tokens', '1,1024', '--logits', out_path], 1,
                 ['1024', 'out of range', 'position 1', '1024 tokens'])
    expect_error('--tokens over the context', ['--tokens', ','.join(['1'] * (CTX + 1)), '--logits', out_path], 1,
                 ['65 tokens', 'context of 64'])
    expect_error('--tokens syntax', ['--tokens', '1,,2', '--logits', out_path], 2, ['--tokens'])
    expect_error('--tokens negative', ['--tokens', '-1', '--logits', out_path], 2, ['--tokens'])
    expect_error('--logits to an unwritable path', ['--tokens', '1', '--logits', os.path.join(tmp, 'no', 'x')], 1,
                 ['cannot write'])

# ---- the command line ---------------------------------------------------------------------------
expect_error('-n 0', ['-p', '$', '-n', 0], 2, ['nothing to generate'])
expect_error('-n abc', ['-p', '$', '-n', 'abc'], 2, ['-n', 'abc'])
expect_error('-n -3', ['-p', '$', '-n', '-3'], 2, ['-n'])
expect_error('-n without a value', ['-p', '$', '-n'], 2, ['needs a value'])
expect_error('--temperature -1', ['-p', '$', '--temperature', '-1'], 2, ['--temperature'])
expect_error('--temperature nan', ['-p', '$', '--temperature', 'nan'], 2, ['--temperature'])
expect_error('--top-p 2', ['-p', '$', '--top-p', 2], 2, ['--top-p'])
expect_error('--top-k -1', ['-p', '$', '--top-k', -1], 2, ['--top-k'])
expect_error('--repeat-penalty 0', ['-p', '$', '--repeat-penalty', 0], 2, ['--repeat-penalty'])
expect_error('--seed -1', ['-p', '$', '--seed', -1], 2, ['--seed'])
expect_error('--ctx over the model\'s', ['-p', '$', '--ctx', 65], 2, ['--ctx', "model's context is 64"])
expect_error('--ctx 0', ['-p', '$', '--ctx', 0], 2, ['--ctx'])
expect_error('-t 0', ['-p', '$', '-t', 0], 2, ['-t'])
expect_error('-t 65', ['-p', '$', '-t', 65], 2, ['-t'])
expect('-t 4 is accepted', ['-p', '$', '-n', 3, '-t', 4], b'$abc\n')
expect_error('--stop ""', ['-p', '$', '--stop', ''], 2, ['--stop'])
expect_error('--stop of invalid UTF-8', ['-p', '$', '--stop', b'\xff'], 2, ['--stop', 'UTF-8'])
expect_error('an unknown option', ['-p', '$', '--frobnicate'], 2, ['unknown option', '--frobnicate'])
expect_error('a stray argument', ['-p', '$', 'extra'], 2, ['unexpected argument', 'extra'])
expect_error('-p and -f', ['-p', '$', '-f', 'x'], 2, ['-p or -f'])
expect_error('--tokens and -p', ['-p', '$', '--tokens', '1', '--logits', 'x'], 2, ['not both'])
expect_error('--tokens without --logits', ['--tokens', '1'], 2, ['--logits'])
expect_error('--logits without --tokens', ['--logits', 'x'], 2, ['--tokens'])
expect_error('--weights with embedded weights', ['-p', '$', '--weights', 'x'], 2, ['embedded'])
rc, out, err = run(E, '-p', '$', '-n', 5, '--stats')
check('--stats', rc == 0 and out == b'$abcde\n' and 'prompt: 1 tokens' in err and 'generated: 5 tokens' in err
      and 'tokens/s' in err, err)
# one prompt token; 5 generated, the last never fed: decode counts 4 forward calls
check('--stats prefill: and decode: lines', re.search(r'^prefill: [0-9.]+ tok/s \(1 tokens in [0-9.]+ s\)$', err, re.M)
      is not None and re.search(r'^decode: [0-9.]+ tok/s \(4 tokens in [0-9.]+ s\)$', err, re.M) is not None, err)
expect_error('--selftest without embedded data', ['--selftest'], 2, ['no selftest', 'kiln compile --selftest'])
expect_error('--profile on a model without a profiled forward', ['-p', '$', '--profile'], 1, ['--profile', 'profiled'])
expect_error('--profile= without a file name', ['-p', '$', '--profile='], 2, ['--profile='])
expect_error('--peak-gflops without --profile', ['-p', '$', '--peak-gflops', '5'], 2, ['--profile'])
rc, out, err = run(E, '--version')
check('--version', rc == 0 and all(w in out for w in (b'fake-bigram', b'embedded', b'1024', b'64', b'x86_64')), out)
rc, out, err = run(E, '--help')
check('--help', rc == 0 and all(w in out for w in (b'-n N', b'--temperature', b'--tokens', b'--weights', b'-t N')), out)
rc, out, err = run(E, '-p', '$', '--help')
check('--help wins over other options', rc == 0 and b'usage' in out, out)

# ---- external weights ---------------------------------------------------------------------------
with tempfile.TemporaryDirectory() as tmp:
    model = os.path.join(tmp, 'model')
    shutil.copy(exe_ext, model)
    X = [model]
    wfile = model + '.weights'
    expect_error('external weights: missing file', ['-p', '$', '-n', 3], 1,
                 ["cannot open the weights file '%s'" % wfile, '--weights'], cmd=X)
    data = open(weights_path, 'rb').read()
    open(wfile, 'wb').write(data[:len(data) // 2])
    expect_error('external weights: truncated file', ['-p', '$', '-n', 3], 1,
                 ['has %d bytes' % (len(data) // 2), str(len(data)), 'truncated'], cmd=X)
    open(wfile, 'wb').write(bytes(len(data)))
    expect_error('external weights: a foreign file of the right size', ['-p', '$', '-n', 3], 1,
                 ['does not belong'], cmd=X)
    open(wfile, 'wb').write(data + b'\0')
    expect_error('external weights: a longer file', ['-p', '$', '-n', 3], 1, ['has %d bytes' % (len(data) + 1)], cmd=X)
    shutil.copy(weights_path, wfile)
    rc, out, err = run(X, '-p', '$', '-n', 5)
    check('external weights: the right file beside the executable', rc == 0 and out == b'$abcde\n', (rc, out, err))
    other = os.path.join(tmp, 'elsewhere.bin')
    os.rename(wfile, other)
    rc, out, err = run(X, '-p', '$', '-n', 5, '--weights', other)
    check('external weights: --weights FILE', rc == 0 and out == b'$abcde\n', (rc, out, err))
    rc, out, err = run(X, '--tokens', '5,6', '--logits', os.path.join(tmp, 'l.f32'), '--weights', other)
    check('external weights: --tokens', rc == 0 and open(os.path.join(tmp, 'l.f32'), 'rb').read() ==
          (row(5) + row(6)).tobytes(), err)
    expect_error('external weights: --weights of a missing file', ['-p', '$', '--weights', other + 'x'], 1,
                 ['cannot open the weights file'], cmd=X)
    rc, out, err = run(X, '--version')
    check('--version says external', rc == 0 and b'external' in out, out)

# ---- no allocation in the decode loop ------------------------------------------------------------
with tempfile.TemporaryDirectory() as tmp:
    counts = {}
    for label, extra in (('greedy', []),
                         ('sampling, penalty, stop', ['--temperature', 0.8, '--top-k', 40, '--top-p', 0.95,
                                                      '--repeat-penalty', 1.3, '--stop', 'zzz', '--seed', 3])):
        for n in (1, 50):
            cf = os.path.join(tmp, 'count')
            env = dict(os.environ, LD_PRELOAD=shim, KILN_MALLOC_COUNT_FILE=cf)
            rc, out, err = run(E, '-p', case['prompt'], '-n', n, *extra, env=env)
            counts[label, n] = int(open(cf).read()) if rc == 0 and os.path.exists(cf) else None
            if os.path.exists(cf):
                os.remove(cf)
        check('allocations with -n 1 and -n 50 are equal (%s)' % label,
              counts[label, 1] is not None and counts[label, 1] == counts[label, 50],
              '%s vs %s' % (counts[label, 1], counts[label, 50]))
    print('  allocations per run: %s' % ', '.join('%s -n %d: %s' % (k[0], k[1], v) for k, v in counts.items()))

sys.exit(1 if failures else 0)
