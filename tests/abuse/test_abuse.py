#!/usr/bin/env python3
"""test_abuse.py KILN SOURCE SLOW_STDOUT — produced executables under abuse (docs/cli.md,
"Abuse"): the decoder models/tiny, the encoder models/bert-tiny and the encoder-decoder
models/seq2seq-numbers, each compiled once into a temporary folder.

  junk        random bytes and invalid UTF-8 in -p, -f FILE and standard input: exit 1 and
              the offset of the first bad byte (the one Python's own UTF-8 decoder names),
              never a crash; NUL and control characters are valid UTF-8 and are accepted;
  10 MB       a 10 MB prompt (a word of random letters, which costs GPT-2's BPE merges
              seconds) refused in well under a second with the context named; a 10 MB line
              for the encoder (cut, with a note) and the translator (refused);
  stdout      closed by the reader (`exe | head -c 1`): the process dies of SIGPIPE at the
              next write, at once and silently; with SIGPIPE ignored it stops at the first
              failed write with "cannot write the output: Broken pipe" (exit 1); with no
              stdout at all, "Bad file descriptor" (exit 1);
  SIGINT      during generation: the text so far, whole, then a newline, "interrupted after
              N new tokens" on stderr and exit 130; the text and ids are the first N of an
              uninterrupted greedy run. Translator and --embed: whole lines so far, exit 130;
  context     -n past the room left stops at a full context (exit 0, said on stderr), the
              prompt plus the tokens fed filling it exactly;
  numbers     absurd numeric options: exit 2 with a sentence naming the option.

Generation by models/tiny takes milliseconds, too fast to interrupt: the SIGINT and closed
pipe cases run it with SLOW_STDOUT (slow_stdout.c, LD_PRELOAD), which makes every
fflush(stdout), one per token, sleep 40 ms."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

kiln, src, slow = (os.path.abspath(a) for a in sys.argv[1:4])
failures, passed = [], [0]
CRASH_WORDS = ('Sanitizer', 'Segmentation', 'core dumped', 'Aborted', 'Traceback', 'internal error')


def check(name, ok, detail=''):
    print('%s %s%s' % ('PASS' if ok else 'FAIL', name, (': ' + detail) if detail and not ok else ''))
    if not ok:
        failures.append(name)
    else:
        passed[0] += 1


def run(cmd, stdin=b'', timeout=60, **kw):
    p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, **kw)
    return p.returncode, p.stdout, p.stderr.decode('utf-8', 'replace')


def clean(err):
    return not any(w in err for w in CRASH_WORDS)


tmp = tempfile.mkdtemp(prefix='kiln-abuse-')
exes = {}
for name, model in (('tiny', 'models/tiny'), ('bert', 'models/bert-tiny'), ('s2s', 'models/seq2seq-numbers')):
    exes[name] = os.path.join(tmp, name)
    rc, _, err = run([kiln, 'compile', os.path.join(src, model, 'model.xml'), '-o', exes[name], '-q'], timeout=300)
    check('compile %s' % model, rc == 0, err)
if failures:
    sys.exit(1)
TINY, BERT, S2S = exes['tiny'], exes['bert'], exes['s2s']
CTX = 128                   # models/tiny's context
PROMPT = 'In the beginning'
# in a sanitizer build the executables link ASan, which must otherwise be the first library
SLOW = dict(os.environ, LD_PRELOAD=slow, KILN_SLOW_STDOUT_MS='40',
            ASAN_OPTIONS=os.environ.get('ASAN_OPTIONS', '') + ':verify_asan_link_order=0')


def write(name, data):
    path = os.path.join(tmp, name)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def first_bad(data):
    try:
        data.decode('utf-8')
        return None
    except UnicodeDecodeError as e:
        return e.start


def ids_of(err, label):
    for line in err.splitlines():
        if line.startswith(label + ':'):
            return [int(x) for x in line.split(':', 1)[1].split(',') if x.strip()]
    return None


# ---- junk and invalid UTF-8 --------------------------------------------------------------
rng = random.Random(11)
junks = [bytes(rng.randrange(256) for _ in range(n)) for n in (1, 7, 100, 65536)]
junks += [b'In the \xff beginning', b'God said \xe2\x82', b'\xc0\xaf slash', b'\xed\xa0\x80 surrogate',
          b'\xf4\x90\x80\x80 too high', 'é'.encode() + b'\x80']
for i, data in enumerate(junks):
    bad = first_bad(data)
    if bad is None:
        continue
    want = 'is not valid UTF-8: byte %d (0x%02x) is not part of a character' % (bad, data[bad])
    path = write('junk%d' % i, data)
    for how, args, stdin, where in (('-f FILE', ['-f', path], b'', path), ('stdin', [], data, 'standard input'),
                                    ('-p', ['-p', data], b'', '-p PROMPT')):
        if how == '-p' and b'\0' in data:
            continue
        rc, out, err = run([TINY, '-n', '3'] + args, stdin=stdin)
        check('decoder: junk %d (%d bytes) in %s: exit 1, byte %d named' % (i, len(data), how, bad),
              rc == 1 and err == 'tiny: error: the prompt (%s) %s\n' % (where, want) and out == b'', 'rc %d: %s' % (rc, err))
    line = '%s line 1 %s\n' % (path, want)
    rc, out, err = run([BERT, '--embed', '-f', path])
    check('encoder: junk %d in --embed -f: exit 1, byte named' % i, rc == 1 and err == 'bert: error: ' + line, err)
    rc, out, err = run([S2S, '-f', path])
    check('translator: junk %d in -f: exit 1, byte named' % i, rc == 1 and err == 's2s: error: ' + line, err)

# NUL and control characters are valid UTF-8: they are a prompt like any other
data = b'In\0the\x01be\x1bginning\x7f'
rc, out, err = run([TINY, '-f', write('controls', data), '-n', '3'])
check('decoder: NUL and control characters are accepted (exit 0, echoed)', rc == 0 and out.startswith(data), err)
rc, out, err = run([TINY, '-n', '3'], stdin=b'')
check('decoder: an empty standard input starts from the start token', rc == 0 and out.endswith(b'\n') and clean(err), err)

# ---- 10 MB -----------------------------------------------------------------------------------


def longest_token():
    """Bytes of models/tiny's longest token, from its vocab.json (GPT-2's printable stand-ins
    for bytes, undone as openai/gpt-2's encoder.py bytes_to_unicode defines them)."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_of = {chr(c): b for b, c in zip(bs, cs)}
    vocab = json.load(open(os.path.join(src, 'models', 'tiny', 'vocab.json'), encoding='utf-8'))
    return max(len(t) for t in vocab if all(ch in byte_of for ch in t))


# a prompt over CTX * longest bytes cannot fit: reading stops past that many bytes
K = longest_token()
too_long = ('more than %d bytes, so at least %d tokens (a token of this model stands for at most %d bytes), more than '
            'the context of %d positions\n' % (CTX * K, CTX + 1, K, CTX))
MB10 = 10 * 1024 * 1024
letters = bytes(rng.choice(b'etaoinshrdlu') for _ in range(MB10))
big = write('big.txt', letters)
for how, args, stdin, where in (('-f FILE', ['-f', big], b'', big), ('stdin', [], letters, 'standard input'),
                                ('-f /dev/zero', ['-f', '/dev/zero'], b'', '/dev/zero')):
    t0 = time.time()
    rc, out, err = run([TINY, '-n', '3'] + args, stdin=stdin, timeout=30)
    dt = time.time() - t0
    check('decoder: a 10 MB prompt in %s is refused, the context named (%.2f s)' % (how, dt),
          rc == 1 and err == 'tiny: error: the prompt (%s) has %s' % (where, too_long), err)
    check('decoder: the 10 MB prompt in %s is refused in under 3 s' % how, dt < 3, '%.2f s' % dt)
p = subprocess.Popen(['sh', '-c', 'yes | "$0" -n 3', TINY], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
try:
    out, err = p.communicate(timeout=30)
    err = err.decode('utf-8', 'replace')
except subprocess.TimeoutExpired:
    p.kill()
    err = 'hung'
check('decoder: an endless standard input (yes |) is refused, not read to the end',
      err == 'tiny: error: the prompt (standard input) has ' + too_long, err)
# the encoder and the translator read whole files, up to 1 GiB: /dev/zero ends there
for name, cmd, what in (('encoder', [BERT, '--embed', '-f', '/dev/zero'], 'input'),
                        ('translator', [S2S, '-f', '/dev/zero'], 'input')):
    rc, out, err = run(cmd, timeout=120)
    check('%s: -f /dev/zero is refused at 1 GiB, not read until memory runs out' % name,
          rc == 1 and err == '%s: error: the %s (/dev/zero) is longer than 1073741824 bytes, the most this executable '
          'reads\n' % (os.path.basename(cmd[0]), what), 'rc %d: %r' % (rc, err))
exact = write('exact.txt', b'a' * (CTX * K))
rc, out, err = run([TINY, '-f', exact, '-n', '1'])
check('decoder: a prompt of exactly %d bytes goes to the tokenizer, which counts its tokens' % (CTX * K),
      rc == 1 and err.startswith('tiny: error: the prompt has ') and 'more than the context' in err, err)
# a prompt that may fit by its bytes goes through the tokenizer, which counts exactly
rc, out, err = run([TINY, '-p', 'the ' * 200, '-n', '1'])
check('decoder: a prompt over the context by its tokens names their count',
      rc == 1 and err.startswith('tiny: error: the prompt has 2') and
      err.endswith(' tokens, more than the context of %d positions\n' % CTX), err)
rc, out, err = run([TINY, '-p', 'the ' * 20, '-n', '1', '--ctx', '10'])
check('decoder: over --ctx, --ctx is named', rc == 1 and err.endswith('context of 10 positions (--ctx)\n'), err)
path = write('bigwords.txt', b'one two ' * (MB10 // 8) + b'\n')
t0 = time.time()
rc, out, err = run([BERT, '--embed', '-f', path], timeout=30)
check('encoder: a 10 MB line is cut to the model\'s positions, with a note (%.2f s)' % (time.time() - t0),
      rc == 0 and out.count(b'\n') == 1 and 'kept the first' in err and time.time() - t0 < 5, err)
path = write('bigline.txt', b'12' * (MB10 // 2) + b'\n')
t0 = time.time()
rc, out, err = run([S2S, '-f', path], timeout=30)
check('translator: a 10 MB line is refused, the source positions named (%.2f s)' % (time.time() - t0),
      rc == 1 and err == 's2s: error: %s line 1 has %d tokens with its end token, more than the model\'s 96 source '
      'positions\n' % (path, MB10 + 1) and time.time() - t0 < 5, err)

# ---- a closed stdout ---------------------------------------------------------------------------


def read_some(p, n):
    """At least n bytes of p's stdout, read unbuffered (communicate() reads the pipe itself)."""
    got = b''
    while len(got) < n:
        b = os.read(p.stdout.fileno(), n - len(got))
        if not b:
            break
        got += b
    return got


def read_then_close(cmd, nbytes, env=None, ignore_sigpipe=False):
    """Starts cmd, reads nbytes of its stdout, closes the pipe; (rc, stderr, seconds after closing)."""
    pre = (lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN)) if ignore_sigpipe else None
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=pre)
    got = read_some(p, nbytes)
    p.stdout.close()
    t0 = time.time()
    try:
        err = p.communicate(timeout=20)[1]
    except subprocess.TimeoutExpired:
        p.kill()
        return None, 'hung', 20.0, got
    return p.returncode, err.decode('utf-8', 'replace'), time.time() - t0, got


# -n 120 at 40 ms a token is about 5 s of output: a prompt end is far before that
rc, err, dt, got = read_then_close([TINY, '-p', PROMPT, '-n', '120'], len(PROMPT) + 1, env=SLOW)
check('decoder | head -c: killed by SIGPIPE at its next write, silently (%.2f s)' % dt,
      rc == -signal.SIGPIPE and err == '' and dt < 2, 'rc %s, %r' % (rc, err))
rc, err, dt, got = read_then_close([TINY, '-p', PROMPT, '-n', '120'], len(PROMPT) + 1, env=SLOW, ignore_sigpipe=True)
check('decoder | head -c, SIGPIPE ignored: exit 1 at the first failed write (%.2f s)' % dt,
      rc == 1 and err == 'tiny: error: cannot write the output: Broken pipe\n' and dt < 2, 'rc %s, %r' % (rc, err))
nums = write('nums.txt', ''.join('%d\n' % rng.randrange(100000) for _ in range(3000)).encode())
for name, cmd in (('translator', [S2S, '-f', nums]), ('encoder', [BERT, '--embed', '-f', nums])):
    rc, err, dt, got = read_then_close(cmd, 1)
    check('%s | head -c 1: killed by SIGPIPE, silently (%.2f s)' % (name, dt),
          rc == -signal.SIGPIPE and err == '' and dt < 2, 'rc %s, %r' % (rc, err))
    rc, err, dt, got = read_then_close(cmd, 1, ignore_sigpipe=True)
    check('%s | head -c 1, SIGPIPE ignored: exit 1, "Broken pipe" (%.2f s)' % (name, dt),
          rc == 1 and err == '%s: error: cannot write the output: Broken pipe\n' % os.path.basename(cmd[0]) and dt < 2,
          'rc %s, %r' % (rc, err))
for name, cmd in (('decoder', [TINY, '-p', PROMPT, '-n', '5']), ('translator', [S2S, '--translate', '12']),
                  ('encoder', [BERT, '--fill-mask', 'the [MASK] sat'])):
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1), timeout=60)
    err = p.stderr.decode('utf-8', 'replace')
    check('%s with no stdout at all: exit 1, "Bad file descriptor"' % name,
          p.returncode == 1 and err == '%s: error: cannot write the output: Bad file descriptor\n'
          % os.path.basename(cmd[0]), 'rc %d, %r' % (p.returncode, err))

# ---- SIGINT --------------------------------------------------------------------------------------
N = 120
rc, full, err = run([TINY, '-p', PROMPT, '-n', str(N), '--show-ids'])
full_ids = ids_of(err, 'generated ids')
check('decoder: the uninterrupted greedy run', rc == 0 and full_ids and len(full_ids) > 40, err)


def interrupt(cmd, nbytes, env=None):
    """Starts cmd, reads nbytes of its output, sends SIGINT: (status, all its output, stderr)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    head = read_some(p, nbytes)
    p.send_signal(signal.SIGINT)
    try:
        rest, err = p.communicate(timeout=30)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        rest, err, rc = b'', b'hung', None
    return rc, head + rest, err.decode('utf-8', 'replace')


# the prompt and some generated text, then SIGINT
rc, out, err = interrupt([TINY, '-p', PROMPT, '-n', str(N), '--show-ids'], len(PROMPT) + 8, SLOW)
ids = ids_of(err, 'generated ids') or []
msg = 'tiny: interrupted after %d new tokens\n' % len(ids)
check('decoder: SIGINT during generation exits 130', rc == 130, 'rc %s: %s' % (rc, err))
check('decoder: SIGINT says how many tokens were generated', msg in err and 0 < len(ids) < len(full_ids), err)
check('decoder: SIGINT after the text so far and a newline, the start of the full run\'s text',
      out.endswith(b'\n') and full.startswith(out[:-1]) and len(out) > len(PROMPT) + 8, '%r vs %r' % (out, full))
check('decoder: SIGINT: the ids so far are the full run\'s first ones', ids == full_ids[:len(ids)], '%s' % ids)
# kiln run (the interpreter) stops the same way
rc, out, err = interrupt([kiln, 'run', os.path.join(src, 'models', 'tiny', 'model.xml'), '-p', PROMPT, '-n', str(N)],
                         len(PROMPT) + 8, SLOW)
check('kiln run: SIGINT during generation exits 130 after the text so far, the full run\'s start',
      rc == 130 and 'kiln: interrupted after ' in err and out.endswith(b'\n') and full.startswith(out[:-1]),
      'rc %s: %r %r' % (rc, err, out))
for name, cmd, what in (('translator', [S2S, '-f', nums], 'sentences'), ('encoder', [BERT, '--embed', '-f', nums], 'lines')):
    rc, out, err = interrupt(cmd, 1)
    lines = out.count(b'\n')
    check('%s: SIGINT between inputs exits 130 with whole lines, their count said' % name,
          rc == 130 and out.endswith(b'\n') and 0 < lines < 3000 and
          err == '%s: interrupted after %d %s\n' % (os.path.basename(cmd[0]), lines, what),
          'rc %s, %d lines: %r' % (rc, lines, err))

# ---- running out of context ------------------------------------------------------------------------
for extra, ctx in (([], CTX), (['--ctx', '40'], 40)):
    rc, out, err = run([TINY, '-p', PROMPT, '-n', '1000', '--show-ids'] + extra)
    prompt_ids, gen = ids_of(err, 'prompt ids'), ids_of(err, 'generated ids')
    check('decoder: -n past the context%s stops there, exit 0, said' % (' ' + ' '.join(extra) if extra else ''),
          rc == 0 and 'tiny: stopped: the context of %d positions is full\n' % ctx in err and
          len(prompt_ids) + len(gen) - 1 == ctx, 'rc %d: %s' % (rc, err))
rc, out, err = run([TINY, '-p', PROMPT, '-n', '1000', '--beam', '1', '--ctx', '30', '--show-ids'])
check('decoder: --beam with -n past the context stops there, exit 0',
      rc == 0 and len(ids_of(err, 'prompt ids')) + len(ids_of(err, 'generated ids')) - 1 <= 30, err)

# ---- absurd numbers ----------------------------------------------------------------------------------
for exe, args, line in (
        (TINY, ['-n', '-1'], '-n -1 is out of range (0 to 1073741824)'),
        (TINY, ['-n', '1e30'], "-n needs a whole number, not '1e30'"),
        (TINY, ['-n', '99999999999999999999'], '-n 99999999999999999999 is out of range (0 to 1073741824)'),
        (TINY, ['-t', '100000'], '-t 100000 is out of range (1 to 64)'),
        (TINY, ['--temperature', 'nan'], "--temperature needs a number, not 'nan'"),
        (TINY, ['--temperature', 'inf'], '--temperature inf is out of range (0 to 100)'),
        (TINY, ['--top-p', '2'], '--top-p 2 is out of range (0 to 1)'),
        (TINY, ['--top-k', '1e3'], "--top-k needs a whole number, not '1e3'"),
        (TINY, ['--ctx', '0'], "--ctx 0: the model's context is 128 positions (give 1 to 128)"),
        (TINY, ['--ctx', '1000000000000000000000'], "--ctx 1000000000000000000000: the model's context is 128 "
                                                    "positions (give 1 to 128)"),
        (TINY, ['--beam', '0'], '--beam 0 is out of range (1 to 1048576)'),
        (TINY, ['--seed', '-1'], "--seed needs a whole number from 0 to 18446744073709551615, not '-1'"),
        (TINY, ['--repeat-penalty', '-0'], "--repeat-penalty must be positive (1 = off), not '-0'"),
        (S2S, ['-n', '-1'], '-n -1 is out of range (1 to 96)'),
        (S2S, ['--beam', '1e9'], "--beam needs a whole number, not '1e9'"),
        (BERT, ['-t', '100000'], '-t 100000 is out of range (1 to 64)')):
    base = {TINY: ['-p', 'x'], S2S: ['--translate', '12'], BERT: ['--fill-mask', 'a [MASK]']}[exe]
    rc, out, err = run([exe] + base + args)
    name = os.path.basename(exe)
    check('%s %s: exit 2, said' % (name, ' '.join(args)),
          rc == 2 and err == '%s: error: %s\n(see: %s --help)\n' % (name, line, name), 'rc %d: %r' % (rc, err))

shutil.rmtree(tmp, ignore_errors=True)
print('%d passed, %d failed' % (passed[0], len(failures)))
sys.exit(1 if failures else 0)
