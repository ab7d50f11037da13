#!/usr/bin/env python3
"""test_cpus.py KILN SOURCE — executables for CPUs other than this machine's, run on an
emulation of exactly that CPU.

For each (target, --cpu, qemu CPU): x86-64-v2 under `qemu-x86_64 -cpu Nehalem` (SSE4.2, no
AVX), x86-64-v3 under `-cpu Haswell` (AVX2 + FMA), aarch64 cortex-a72 (Raspberry Pi 4) and
neoverse-n1 (Graviton2) under `qemu-aarch64 -cpu` of the same name, and the two SVE CPUs:
a64fx (512-bit SVE) under `-cpu a64fx`, neoverse-v1 (Graviton3, 256-bit SVE) under `-cpu
max` with 256-bit vectors. On each: models/tiny compiled with --selftest passes it (its
logits within the printed tolerance of the reference interpreter's), greedy text equals the
host build's, and models/bert-tiny's --selftest passes too (an encoder). The SVE builds'
assembly must have SVE multiply-adds (fmla on z registers).

The controls: an executable on a processor without what its CPU has is refused before any
kernel runs, with a message naming what is missing and exit status 1 — the x86-64-v3 build
under -cpu Nehalem (no AVX2), the neoverse-v1 build under -cpu neoverse-n1 (no SVE) and
under 128-bit SVE vectors. (Without that check, the x86-64-v3 build died of SIGILL there:
the emulation refuses what the CPU lacks, so a pass above means the kernels used only that
CPU's instructions.) Skipped (77) without qemu or the cross compiler."""
import os
import shutil
import subprocess
import sys
import tempfile

kiln, src = os.path.abspath(sys.argv[1]), sys.argv[2]
if not shutil.which('qemu-x86_64') or not shutil.which('qemu-aarch64') or not shutil.which('aarch64-linux-gnu-gcc'):
    print('skipped: qemu-user or aarch64-linux-gnu-gcc is not installed')
    sys.exit(77)
tiny = os.path.join(src, 'models', 'tiny', 'model.xml')
bert = os.path.join(src, 'models', 'bert-tiny', 'model.xml')
failures = []


def check(name, ok, detail=''):
    print('%s %s%s' % ('PASS' if ok else 'FAIL', name, (': ' + str(detail)[-600:]) if detail and not ok else ''))
    if not ok:
        failures.append(name)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


ARGS = ['-p', 'And God said', '-n', '20', '-t', '1']
tmp = tempfile.mkdtemp(prefix='kiln-cpus-')
host = os.path.join(tmp, 'host')
rc, _, err = run([kiln, 'compile', tiny, '-o', host, '-q'])
check('compile tiny for this machine', rc == 0, err)
want = run([host] + ARGS)[1]
SYSROOT = ['-L', '/usr/aarch64-linux-gnu']
cases = [
    ('x86_64-linux-gnu', 'x86-64-v2', ['qemu-x86_64', '-cpu', 'Nehalem']),
    ('x86_64-linux-gnu', 'x86-64-v3', ['qemu-x86_64', '-cpu', 'Haswell']),
    ('aarch64-linux-gnu', 'cortex-a72', ['qemu-aarch64', '-cpu', 'cortex-a72'] + SYSROOT),
    ('aarch64-linux-gnu', 'neoverse-n1', ['qemu-aarch64', '-cpu', 'neoverse-n1'] + SYSROOT),
    ('aarch64-linux-gnu', 'a64fx', ['qemu-aarch64', '-cpu', 'a64fx'] + SYSROOT),
    ('aarch64-linux-gnu', 'neoverse-v1', ['qemu-aarch64', '-cpu', 'max,sve-default-vector-length=32'] + SYSROOT),
]
for target, cpu, qemu in cases:
    for name, model in (('tiny', tiny), ('bert-tiny', bert)):
        exe = os.path.join(tmp, '%s-%s' % (name, cpu))
        rc, _, err = run([kiln, 'compile', model, '-o', exe, '-q', '--selftest', '--target', target, '--cpu', cpu])
        check('compile %s for %s' % (name, cpu), rc == 0, err)
        if rc != 0:
            continue
        rc, out, err = run(qemu + [exe, '--selftest'])
        check('%s --cpu %s under %s: --selftest ok' % (name, cpu, ' '.join(qemu[:3])),
              rc == 0 and out.startswith('selftest: ok'), out + err)
        if name == 'tiny':
            rc, out, err = run(qemu + [exe] + ARGS)
            check('tiny --cpu %s: the host\'s greedy text' % cpu, rc == 0 and out == want and want, out + err)
for cpu in ('a64fx', 'neoverse-v1'):
    asm = os.path.join(tmp, 'tiny-%s.s' % cpu)
    rc, _, err = run([kiln, 'compile', tiny, '-o', asm, '--emit=asm', '--target', 'aarch64-linux-gnu', '--cpu', cpu])
    text = open(asm).read() if rc == 0 else ''
    sve = sum(1 for l in text.splitlines() if l.split()[:1] == ['fmla'] and 'z' in l.split()[1])
    check('--cpu %s: the kernels multiply-add on SVE z registers' % cpu, sve >= 10, 'rc %d, %d SVE fmla %s' % (rc, sve, err))
controls = [
    ('x86-64-v3', ['qemu-x86_64', '-cpu', 'Nehalem'], 'needs AVX2'),
    ('neoverse-v1', ['qemu-aarch64', '-cpu', 'neoverse-n1'] + SYSROOT, 'needs SVE,'),
    ('neoverse-v1', ['qemu-aarch64', '-cpu', 'max,sve-default-vector-length=16'] + SYSROOT,
     'needs SVE vectors of at least 256 bits; this processor\'s are 128 bits'),
]
for cpu, qemu, says in controls:
    rc, out, err = run(qemu + [os.path.join(tmp, 'tiny-' + cpu), '--selftest'])
    check('control: the --cpu %s build under %s is refused (%s)' % (cpu, ' '.join(qemu[:3]), says),
          rc == 1 and says in err and '--cpu ' + cpu in err and not out, 'rc %d %s' % (rc, out + err))
shutil.rmtree(tmp)
print('%d checks failed' % len(failures) if failures else 'all checks passed')
sys.exit(1 if failures else 0)
