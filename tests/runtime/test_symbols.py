#!/usr/bin/env python3
"""test_symbols.py [ARCH NM CC ARCHIVE]... — what the executables' runtime archives need.

For each libkiln_rt-<arch>.a: every symbol it leaves undefined must be defined by that
target's libc, libm or libpthread (their dynamic symbol tables, found through
`CC -print-file-name=`, and libc_nonshared.a), or be kiln_model, the one symbol the
compiler provides; `main` must be in it; and no symbol may be named like model arithmetic
(all kernels are generated, DESIGN.md: the runtime must not contain model arithmetic)."""
import re
import subprocess
import sys

FORBIDDEN = re.compile(r'matmul|gemm|gemv|softmax|layer_?norm|rms_?norm|gelu|silu|swiglu|attention|attn',
                       re.IGNORECASE)
LINKER_DEFINED = {'_GLOBAL_OFFSET_TABLE_'}
failures = []


def check(name, cond, detail=''):
    print('%s %s%s' % ('PASS' if cond else 'FAIL', name, (': ' + detail) if detail and not cond else ''))
    if not cond:
        failures.append(name)


def nm_lines(nm, *args):
    p = subprocess.run([nm] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit('%s %s failed: %s' % (nm, ' '.join(args), p.stderr.strip()))
    return p.stdout.splitlines()


def library_symbols(nm, cc):
    """Symbols defined by the target's libc, libm and libpthread."""
    names = set(LINKER_DEFINED)
    found = []
    for lib, dynamic in (('libc.so.6', True), ('libm.so.6', True), ('libpthread.so.0', True),
                         ('libc_nonshared.a', False)):
        path = subprocess.run([cc, '-print-file-name=' + lib], capture_output=True, text=True).stdout.strip()
        if '/' not in path:
            continue
        found.append(lib)
        for line in nm_lines(nm, *(['-D'] if dynamic else []), '--defined-only', path):
            parts = line.split()
            if len(parts) >= 3:
                names.add(parts[2].split('@')[0])
    if 'libc.so.6' not in found or 'libm.so.6' not in found:
        raise SystemExit('%s does not find libc.so.6 and libm.so.6 (found: %s)' % (cc, found))
    return names


args = sys.argv[1:]
if not args or len(args) % 4:
    raise SystemExit('usage: test_symbols.py [ARCH NM CC ARCHIVE]...')
for i in range(0, len(args), 4):
    arch, nm, cc, archive = args[i:i + 4]
    defined, undefined = set(), set()
    for line in nm_lines(nm, archive):
        parts = line.split()
        if len(parts) == 2 and parts[0] == 'U':
            undefined.add(parts[1])
        elif len(parts) == 3:
            defined.add(parts[2])
    needed = undefined - defined
    allowed = library_symbols(nm, cc)
    foreign = sorted(s for s in needed if s not in allowed and s != 'kiln_model')
    check('%s: undefined symbols are libc/libm/pthreads or kiln_model' % arch, not foreign,
          'also needs %s' % ', '.join(foreign))
    check('%s: refers to kiln_model' % arch, 'kiln_model' in needed)
    check('%s: defines main' % arch, 'main' in defined)
    arith = sorted(s for s in defined | undefined if FORBIDDEN.search(s))
    check('%s: no model arithmetic' % arch, not arith, ', '.join(arith))
    print('  %s: %d symbols defined, %d needed from outside: %s' % (arch, len(defined), len(needed),
                                                                    ' '.join(sorted(needed))))
sys.exit(1 if failures else 0)
