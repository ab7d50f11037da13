#!/usr/bin/env python3
"""test_emit.py KILN SOURCE — what `kiln compile --emit=...` writes, and where.

-o names the first kind asked for; the others go beside it (OUT.ll, OUT.s, OUT.o, OUT.kir).
The LLVM IR names kernels and values after model nodes; the executable runs."""
import os
import subprocess
import sys
import tempfile

kiln, src = os.path.abspath(sys.argv[1]), sys.argv[2]
model = os.path.join(src, 'models', 'tiny', 'model.xml')
failures = []


def check(name, ok, detail=''):
    print('%s %s%s' % ('PASS' if ok else 'FAIL', name, (': ' + detail) if detail and not ok else ''))
    if not ok:
        failures.append(name)


def run(*args):
    p = subprocess.run([kiln] + list(args), capture_output=True, text=True, timeout=300)
    if p.returncode:
        print(p.stderr)
    return p.returncode


with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 'tiny')
    check('--emit=exe,llvm,asm,obj', run('compile', model, '-o', out, '--emit=exe,llvm,asm,obj', '-q') == 0)
    for ext in ('', '.ll', '.s', '.o'):
        check('wrote tiny%s' % ext, os.path.isfile(out + ext))
    ll = open(out + '.ll').read() if os.path.isfile(out + '.ll') else ''
    # kernels are internal and LLVM inlines many; their names stay in what is left of them
    check('LLVM IR names kernels after nodes', '@k.l0.' in ll or 'k.l0.ln_1.exit' in ll)
    check('LLVM IR has kiln_forward and kiln_model', 'kiln_forward' in ll and '@kiln_model' in ll)
    check('forward values are named after nodes', '%l0.ln_1.w = getelementptr i8, ptr %weights' in ll)
    p = subprocess.run([out, '-p', 'And', '-n', '3'], capture_output=True, text=True)
    check('the executable runs', p.returncode == 0 and p.stdout.startswith('And'))
    only = os.path.join(tmp, 'only.s')
    check('--emit=asm -o only.s', run('compile', model, '-o', only, '--emit=asm', '-q') == 0 and os.path.isfile(only)
          and not os.path.exists(os.path.join(tmp, 'only')))
    kir = os.path.join(tmp, 'm.kir')
    check('--emit=ir,exe -o m.kir', run('compile', model, '-o', kir, '--emit=ir,exe', '-q') == 0 and os.path.isfile(kir)
          and os.path.isfile(os.path.join(tmp, 'm')))
    ext = os.path.join(tmp, 'ext')
    check('--weights=external writes OUT.weights', run('compile', model, '-o', ext, '--weights=external', '-q') == 0
          and os.path.isfile(ext + '.weights') and os.path.getsize(ext) < os.path.getsize(out))
    p = subprocess.run([ext, '-p', 'And', '-n', '3', '--temperature', '0'], capture_output=True, text=True)
    q = subprocess.run([out, '-p', 'And', '-n', '3', '--temperature', '0'], capture_output=True, text=True)
    check('external weights give the same text', p.returncode == 0 and p.stdout == q.stdout)
    p = subprocess.run([out, '-p', 'And', '-n', '3', '--verify-weights', '--stats'], capture_output=True, text=True)
    check('--verify-weights passes on an intact executable', p.returncode == 0 and 'weights verified' in p.stderr, p.stderr)
    # a side file damaged in the middle: same size, same first and last pages
    blob = bytearray(open(ext + '.weights', 'rb').read())
    blob[len(blob) // 2] ^= 0x40
    damaged = os.path.join(tmp, 'damaged.weights')
    open(damaged, 'wb').write(blob)
    p = subprocess.run([ext, '--weights', damaged, '-p', 'And', '-n', '3'], capture_output=True, text=True)
    check('the cheap check lets a damaged middle through', p.returncode == 0, p.stderr)
    p = subprocess.run([ext, '--weights', damaged, '-p', 'And', '-n', '3', '--verify-weights'], capture_output=True, text=True)
    check('--verify-weights finds the damage', p.returncode == 1 and 'the weights are damaged' in p.stderr, p.stderr)
    os.rename(ext + '.weights', ext + '.moved')
    p = subprocess.run([ext, '-p', 'And', '-n', '3'], capture_output=True, text=True)
    check('a missing side file is an error', p.returncode == 1 and 'weights' in p.stderr, p.stderr)
    other = os.path.join(tmp, 'other.weights')
    open(other, 'wb').write(open(ext + '.moved', 'rb').read()[::-1])
    p = subprocess.run([ext, '--weights', other, '-p', 'And', '-n', '3'], capture_output=True, text=True)
    check("another model's side file is an error", p.returncode == 1 and 'weights' in p.stderr, p.stderr)
print('%d failures' % len(failures))
sys.exit(1 if failures else 0)
