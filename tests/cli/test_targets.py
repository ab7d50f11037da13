#!/usr/bin/env python3
"""test_targets.py KILN SOURCE — `kiln compile --list-targets` and `--list-cpus`.

--list-targets names x86_64-linux-gnu and aarch64-linux-gnu with their linker and runtime
archive (found, on this machine: setup.sh installs the cross compiler, the build makes both
archives). --list-cpus, for each target: every CPU it lists is accepted by --cpu (a small
model, tests/ref/gpt2-a, compiled to LLVM IR for it), and the vector width it claims is the
widest f32 vector type of that IR: <16 x float> for AVX-512 and 512-bit SVE, <8 x float> for
AVX2 and 256-bit SVE, <4 x float> for SSE2 and NEON (not counting the loop vectorizer's
interleaved loads, `%wide.vec = load <8N x float>` split by shuffles into N-lane vectors).
An unknown CPU names --list-cpus in its message; a target kiln does not have exits 2."""
import os
import re
import subprocess
import sys
import tempfile

kiln, src = os.path.abspath(sys.argv[1]), sys.argv[2]
model = os.path.join(src, 'tests', 'ref', 'gpt2-a', 'model.xml')
failures = []


def check(name, ok, detail=''):
    print('%s %s%s' % ('PASS' if ok else 'FAIL', name, (': ' + str(detail)) if detail and not ok else ''))
    if not ok:
        failures.append(name)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


rc, out, err = run([kiln, 'compile', '--list-targets'])
check('--list-targets lists both targets', rc == 0 and len(out.splitlines()) == 2 and
      'x86_64-linux-gnu' in out and 'aarch64-linux-gnu' in out, out + err)
check('--list-targets: linkers and runtimes present on this machine', rc == 0 and 'missing' not in out, out)

with tempfile.TemporaryDirectory() as tmp:
    for target in ('x86_64-linux-gnu', 'aarch64-linux-gnu'):
        rc, out, err = run([kiln, 'compile', '--list-cpus', '--target', target])
        lines = [l.split(None, 1) for l in out.splitlines()[1:] if l.strip()]
        check('--list-cpus --target %s lists CPUs' % target, rc == 0 and len(lines) >= 10, out + err)
        for entry in lines:
            cpu = entry[0]
            claim = re.search(r'(\d+) f32 lanes', entry[1]) if len(entry) > 1 else None
            lanes = int(claim.group(1)) if claim else None
            ll = os.path.join(tmp, 'm.ll')
            rc, _, err = run([kiln, 'compile', model, '-o', ll, '--emit=llvm', '--target', target, '--cpu', cpu])
            ir = ''.join(l for l in open(ll) if 'wide.vec' not in l) if rc == 0 else ''
            widths = set(int(w) for w in re.findall(r'<(\d+) x float>', ir))
            check('%s --cpu %s compiles, widest vectors %s f32' % (target, cpu, lanes),
                  rc == 0 and widths and max(widths) == lanes, 'rc %d, widths %s %s' % (rc, sorted(widths), err))
rc, out, err = run([kiln, 'compile', model, '-o', os.devnull, '--emit=obj', '--cpu', 'bogus'])
check('an unknown CPU: exit 1, pointing at --list-cpus', rc == 1 and '--list-cpus' in err, err)
rc, out, err = run([kiln, 'compile', '--list-cpus', '--target', 'riscv64-linux-gnu'])
check('--list-cpus for a target kiln does not have: exit 2', rc == 2 and 'kiln targets' in err, err)
print('%d checks failed' % len(failures) if failures else 'all checks passed')
sys.exit(1 if failures else 0)
