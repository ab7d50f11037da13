#!/usr/bin/env python3
"""test_exe_tools.py KILN SOURCE [--target aarch64-linux-gnu] — the executable's --stats,
--profile and --selftest on models/tiny, and `kiln run --stats`.

--stats: the prefill: and decode: lines are present, their token counts are those of the run
(prompt ids from --show-ids; decode = tokens fed after the prompt = generated - 1) and their
rates equal tokens / seconds as printed.
--profile: every kernel call site of the compiled graph has a row (the nodes of --emit=ir that
are not inputs, weights or reshapes), each row's calls equal the forward calls of the run,
the trace is JSON with one kernel event per kernel call and one span per forward call; given
peaks are said to be given; an unwritable trace path, --profile= and --peak-gflops without
--profile are clear errors.
--selftest: ok on an executable compiled with it (exit 0), FAILED naming the position on one
whose stored logits were perturbed with the hidden --selftest-perturb (exit 1), and a hint
with exit 2 on one compiled without it.
With --target aarch64-linux-gnu the selftest checks run under qemu (skipped, 77, without qemu
or the cross compiler)."""
import argparse
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
ap.add_argument('--target')
args = ap.parse_args()
kiln = os.path.abspath(args.kiln)
model = os.path.join(args.source, 'models', 'tiny', 'model.xml')
runner, target = [], []
if args.target:
    if not shutil.which('qemu-aarch64') or not shutil.which('aarch64-linux-gnu-gcc'):
        print('skipped: qemu-aarch64 or aarch64-linux-gnu-gcc is not installed')
        sys.exit(77)
    runner = ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu']
    target = ['--target', args.target]
failures = []


def check(name, ok, detail=''):
    print('%s %s%s' % ('PASS' if ok else 'FAIL', name, (': ' + detail) if detail and not ok else ''))
    if not ok:
        failures.append(name)


def run(cmd, timeout=300):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


tmp = tempfile.mkdtemp(prefix='kiln-tools-')
exe, plain, bad = (os.path.join(tmp, n) for n in ('tiny-selftest', 'tiny', 'tiny-perturbed'))
for out, extra in ((exe, ['--selftest']), (plain, []), (bad, ['--selftest', '--selftest-perturb=0.5'])):
    rc, _, err = run([kiln, 'compile', model, '-o', out, '-q'] + target + extra)
    check('compile %s' % ' '.join(extra or ['(plain)']), rc == 0, err)
if failures:
    sys.exit(1)

# ---- selftest ----
rc, out, err = run(runner + [exe, '--version'])
vocab = int(re.search(r'vocabulary (\d+) tokens', out).group(1))
rc, out, err = run(runner + [exe, '--selftest'])
m = re.search(r'^selftest: ok \(max \|Δ\| = ([0-9.e+-]+) over (\d+)×(\d+) logits', out, re.M)
check('--selftest ok, exit 0', rc == 0 and m is not None, 'rc %d: %s%s' % (rc, out, err))
if m:
    check('--selftest difference is small', float(m.group(1)) < 1e-3, m.group(0))
    check('--selftest covers the vocabulary', int(m.group(3)) == vocab and int(m.group(2)) >= 2, m.group(0))
rc, out, err = run(runner + [bad, '--selftest'])
m = re.search(r'at position (\d+) of (\d+), token id (\d+):', out)
check('--selftest with perturbed expectation fails, exit 1, naming the perturbed logit (last position, vocab/2)',
      rc == 1 and 'selftest: FAILED' in out and m is not None and int(m.group(1)) == int(m.group(2)) - 1 and
      int(m.group(3)) == vocab // 2, 'rc %d: %s%s' % (rc, out, err))
rc, out, err = run(runner + [plain, '--selftest'])
check('--selftest without embedded data: exit 2 and how to get it',
      rc == 2 and 'kiln compile --selftest' in err, 'rc %d: %s%s' % (rc, out, err))
rc, out, err = run(runner + [exe, '--selftest', '-p', 'x'])
check('--selftest with a prompt: usage error', rc == 2, 'rc %d' % rc)
rc, out, err = run([kiln, 'compile', model, '-o', os.path.join(tmp, 'x.o'), '--emit=obj', '--selftest'])
check('kiln compile --selftest --emit=obj: usage error', rc == 2 and '--selftest' in err, 'rc %d: %s' % (rc, err))
rc, out, err = run([kiln, 'compile', model, '-o', os.path.join(tmp, 'y'), '--selftest-perturb=1'])
check('--selftest-perturb without --selftest: usage error', rc == 2, 'rc %d: %s' % (rc, err))
if args.target:     # the rest is the same code on both targets; aarch64 checks the selftest and one profile
    rc, out, err = run(runner + [exe, '-p', 'Hello', '-n', '3', '--profile', '--peak-gflops', '10', '--peak-gbs', '5'])
    check('aarch64 --profile runs', rc == 0 and 'all kernels' in err, 'rc %d: %s' % (rc, err))
    shutil.rmtree(tmp)
    print('%d failure(s)' % len(failures))
    sys.exit(1 if failures else 0)

# ---- stats ----
SPEED = r'^%s: ([0-9.]+) tok/s \((\d+) tokens in ([0-9.]+) s\)$'


def speeds(err, label):
    out = {}
    for what in ('prefill', 'decode'):
        m = re.search(SPEED % what, err, re.M)
        check('%s: %s line' % (label, what), m is not None, err)
        if m:
            rate, n, secs = float(m.group(1)), int(m.group(2)), float(m.group(3))
            out[what] = (rate, n, secs)
            if n and secs > 0.0005:     # the time is printed to 1 ms: the rate is n over a time within 0.5 ms
                check('%s: %s rate = tokens / time' % (label, what),
                      n / (secs + 0.0005) - 0.1 <= rate <= n / (secs - 0.0005) + 0.1, m.group(0))
            check('%s: %s rate positive' % (label, what), rate > 0 or n == 0, m.group(0))
    return out


N = 8
rc, out, err = run([exe, '-p', 'Once upon a time', '-n', str(N), '--temperature', '0', '--stats', '--show-ids', '-t', '1'])
check('exe --stats runs', rc == 0, err)
prompt_ids = re.search(r'^prompt ids: (.*)$', err, re.M)
gen_ids = re.search(r'^generated ids:(.*)$', err, re.M)
sp = speeds(err, 'exe --stats')
if prompt_ids and gen_ids and 'prefill' in sp and 'decode' in sp:
    n_prompt = len(prompt_ids.group(1).split(','))
    n_gen = len([x for x in gen_ids.group(1).split(',') if x.strip()])
    check('exe --stats: prefill counts the prompt', sp['prefill'][1] == n_prompt, '%s vs %d' % (sp['prefill'], n_prompt))
    stopped_eos = 'stopped at: end of text' in err
    want = n_gen if stopped_eos else n_gen - 1
    check('exe --stats: decode counts the tokens fed after the prompt', sp['decode'][1] == want,
          '%s vs %d generated' % (sp['decode'], n_gen))
check('exe --stats keeps prompt:/generated: lines', re.search(r'^prompt: \d+ tokens', err, re.M) is not None and
      re.search(r'^generated: \d+ tokens', err, re.M) is not None, err)
rc, out, err2 = run([kiln, 'run', model, '-p', 'Once upon a time', '-n', str(N), '--stats'])
check('kiln run --stats runs', rc == 0, err2)
sp2 = speeds(err2, 'kiln run --stats')
if 'prefill' in sp and 'prefill' in sp2:
    check('kiln run --stats counts as the executable',
          sp2['prefill'][1] == sp['prefill'][1] and sp2['decode'][1] == sp['decode'][1], '%s vs %s' % (sp2, sp))

# ---- profile ----
kir = os.path.join(tmp, 'tiny.kir')
rc, _, err = run([kiln, 'compile', model, '--emit=ir', '-o', kir])
check('compile --emit=ir', rc == 0, err)
kernel_nodes = []
for line in open(kir):
    m = re.match(r'\s*%?([\w.]+)\s*=\s*(\w+)', line)
    # not kernels: inputs, weights, reshapes and takes along axis 0 (views of their source)
    if m and m.group(2) not in ('input', 'weight', 'reshape') and not (m.group(2) == 'take' and ' axis=0 ' in line):
        kernel_nodes.append(m.group(1))
trace = os.path.join(tmp, 'trace.json')
rc, out, err = run([exe, '-p', 'Once upon a time', '-n', str(N), '--temperature', '0', '-t', '1',
                    '--profile=' + trace, '--show-ids'])
check('exe --profile=FILE runs', rc == 0, err)
m = re.search(r'^profile: (\d+) forward calls \((\d+) prefill', err, re.M)
check('profile header', m is not None, err)
fwd_calls = int(m.group(1)) if m else -1
gen = re.search(r'^generated ids:(.*)$', err, re.M)
if gen:
    n_gen = len([x for x in gen.group(1).split(',') if x.strip()])
    check('profile: forward calls = 1 prefill + tokens fed after it', fwd_calls in (n_gen, n_gen + 1) and
          m.group(2) == '1', 'forward calls %d, generated %d' % (fwd_calls, n_gen))
check('profile: peaks measured', re.search(r'^peak compute: [0-9.]+ GFLOP/s \(measured', err, re.M) is not None and
      re.search(r'^peak bandwidth: [0-9.]+ GB/s \(measured', err, re.M) is not None, err)
rows = {}
for line in err.splitlines():
    r = re.match(r'^\s*(\d+)\s+(\S+)\s+(\S+)\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)%', line)
    if r:
        rows[r.group(2)] = (int(r.group(1)), r.group(3), int(r.group(4)), float(r.group(5)))
check('profile: a row per kernel node of the compiled graph',
      len(rows) > 0 and set(kernel_nodes) <= set(rows) and len(rows) <= len(kernel_nodes),
      'missing %s; extra %s' % (sorted(set(kernel_nodes) - set(rows)), sorted(set(rows) - set(kernel_nodes))))
check('profile: every row called once per forward call', all(v[2] == fwd_calls for v in rows.values()),
      str([(k, v[2]) for k, v in rows.items() if v[2] != fwd_calls][:5]))
check('profile: op kinds named', all(re.match(r'^[a-z_]+$', v[1]) for v in rows.values()), str(rows)[:300])
check('profile: the matmul-like rows have GFLOP/s', re.search(r'^\s*\d+\s+\S+\s+(linear|matmul|attention)\s+\d+\s+'
      r'[0-9.]+\s+[0-9.]+%\s+[0-9.]+\s+[0-9.]+%', err, re.M) is not None, err)
try:
    events = json.load(open(trace))['traceEvents']
    kernels = [e for e in events if e.get('cat') == 'kernel']
    forwards = [e for e in events if e.get('cat') == 'forward']
    check('trace: one event per kernel call', len(kernels) == sum(v[2] for v in rows.values()),
          '%d events, %d calls' % (len(kernels), sum(v[2] for v in rows.values())))
    check('trace: one span per forward call, prefill first', len(forwards) == fwd_calls and
          forwards[0]['name'] == 'prefill' and all(f['name'] == 'decode' for f in forwards[1:]),
          str([f['name'] for f in forwards]))
    check('trace: complete events', all(e['ph'] == 'X' and e['dur'] >= 0 and e['ts'] >= 0 and e['pid'] == 1 and
                                        'tid' in e for e in events))
    check('trace: kernel names are the rows', set(e['name'] for e in kernels) == set(rows))
    # attention's flops (models/tiny: 4 heads of 24, causal): 2·H·(D + DV) per visible pair of
    # query and key, S·T - S(S-1)/2 of them for S new positions after `past` (T = past + S)
    calls, pending = [], []
    for e in events:
        if e.get('cat') == 'kernel':
            pending.append(e)
        elif e.get('cat') == 'forward':
            calls.append((e['args']['seq'], pending))
            pending = []
    want, got, past = [], [], 0
    for seq, ks in calls:
        T = past + seq
        want += [2 * 4 * (24 + 24) * (seq * T - seq * (seq - 1) // 2)] * 4
        got += [k['args']['flops'] for k in ks if k['args']['op'] == 'attention']
        past = T
    check('trace: each attention call counts the visible pairs of its causal mask', got == want and len(calls) > 2,
          'got %s, want %s' % (got[:8], want[:8]))
except (ValueError, KeyError, OSError) as ex:
    check('trace parses as JSON', False, str(ex))

rc, out, err = run([exe, '--tokens', '1,2,3,4,5', '--logits', os.path.join(tmp, 'l.f32'), '--profile',
                    '--peak-gflops', '100', '--peak-gbs', '10'])
check('--tokens --profile with given peaks', rc == 0 and 'GFLOP/s (given: --peak-gflops)' in err and
      'GB/s (given: --peak-gbs)' in err and re.search(r'^profile: 1 forward calls', err, re.M) is not None, err)
rc, out, err = run([exe, '-p', 'x', '-n', '2', '--profile=' + os.path.join(tmp, 'no', 'such', 'dir', 't.json')])
check('--profile=unwritable: clear error, exit 1', rc == 1 and 'cannot write the trace' in err and 'no/such/dir' in err,
      'rc %d: %s' % (rc, err))
rc, out, err = run([exe, '-p', 'x', '-n', '2', '--profile='])
check('--profile= (empty): usage error', rc == 2 and '--profile=' in err, 'rc %d: %s' % (rc, err))
rc, out, err = run([exe, '-p', 'x', '-n', '2', '--peak-gflops', '10'])
check('--peak-gflops without --profile: usage error', rc == 2, 'rc %d: %s' % (rc, err))
rc, out, err = run([exe, '-p', 'x', '-n', '2', '--profile', '--peak-gbs', 'fast'])
check('--peak-gbs not a number: usage error', rc == 2 and '--peak-gbs' in err, 'rc %d: %s' % (rc, err))
rc, out, err = run([exe, '--help'])
check('--help documents the flags', all(f in out for f in ('--profile', '--peak-gflops', '--selftest', 'decode:')))

shutil.rmtree(tmp)
print('%d failure(s)' % len(failures))
sys.exit(1 if failures else 0)
