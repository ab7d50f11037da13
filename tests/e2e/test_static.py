#!/usr/bin/env python3
"""test_static.py KILN SOURCE — `kiln compile --static`: executables that carry their C library.

models/tiny compiled with --static for the host and for aarch64: the ELF file has no
program interpreter and no shared-library dependency (readelf), it prints the same greedy text
as the dynamically linked executable, and the aarch64 one runs under qemu with no sysroot
(no -L: nothing to load). --static with --emit other than exe is refused. The aarch64 part
is skipped without qemu or the cross compiler."""
import os
import shutil
import subprocess
import sys
import tempfile

kiln, src = os.path.abspath(sys.argv[1]), sys.argv[2]
model = os.path.join(src, 'models', 'tiny', 'model.xml')
failures = []


def check(name, ok, detail=''):
    print('%s %s%s' % ('PASS' if ok else 'FAIL', name, (': ' + str(detail)) if detail and not ok else ''))
    if not ok:
        failures.append(name)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def static_elf(path):
    rc, out, err = run(['readelf', '-l', '-d', path])
    return rc == 0 and 'INTERP' not in out and 'NEEDED' not in out, out[-400:] + err


tmp = tempfile.mkdtemp(prefix='kiln-static-')
args = ['-p', 'And the LORD said', '-n', '20', '-t', '1']
dyn, sta = os.path.join(tmp, 'dyn'), os.path.join(tmp, 'static')
for out, extra in ((dyn, []), (sta, ['--static'])):
    rc, _, err = run([kiln, 'compile', model, '-o', out, '-q'] + extra)
    check('compile %s' % (' '.join(extra) or '(dynamic)'), rc == 0, err)
if not failures:
    ok, why = static_elf(sta)
    check('--static: no interpreter, no shared library', ok, why)
    ok, _ = static_elf(dyn)
    check('without --static: dynamically linked (the check can fail)', not ok)
    want, got = run([dyn] + args), run([sta] + args)
    check('the static executable prints what the dynamic one does', got[0] == 0 and got[1] == want[1] and want[1],
          '%r vs %r' % (got[1], want[1]))
rc, _, err = run([kiln, 'compile', model, '-o', os.path.join(tmp, 'm.o'), '--emit=obj', '--static'])
check('--static with --emit=obj: refused (exit 2)', rc == 2 and '--static is about linking' in err, err)

if shutil.which('qemu-aarch64') and shutil.which('aarch64-linux-gnu-gcc'):
    arm = os.path.join(tmp, 'arm')
    rc, _, err = run([kiln, 'compile', model, '-o', arm, '-q', '--static', '--target', 'aarch64-linux-gnu',
                      '--cpu', 'cortex-a72'])
    check('compile --static for aarch64 (cortex-a72)', rc == 0, err)
    if rc == 0:
        ok, why = static_elf(arm)
        check('aarch64 --static: no interpreter, no shared library', ok, why)
        got = run(['qemu-aarch64', arm] + args)
        check('aarch64 --static runs under qemu without a sysroot, same text as the host', got[0] == 0 and
              got[1] == run([dyn] + args)[1], got[2])
else:
    print('note: qemu-aarch64 or aarch64-linux-gnu-gcc missing: the aarch64 part is not run')

shutil.rmtree(tmp)
print('%d checks failed' % len(failures) if failures else 'all checks passed')
sys.exit(1 if failures else 0)
