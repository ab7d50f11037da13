#!/usr/bin/env python3
"""test_size.py KILN SOURCE — `kiln size` on executables made from the tiny model.

Checked against readelf, an independent ELF reader: the parts add up to the loaded
sections, which with the non-loaded sections and the headers make the file (within the
alignment padding a linker leaves, at most 64 KiB); the weights are the safetensors tensor
bytes; the kernels are the k.* functions of the symbol table, largest first."""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
from common import check, finish, kiln, kiln_run, model, src

kiln_path = kiln

PART = re.compile(r'^\s*(\d+)\s+([\d.]+)%\s+(.*)$')


def parse(text):
    """{part name (up to a comma or parenthesis): bytes}, the kernels listed (bytes, name)."""
    parts, kernels, in_kernels = {}, [], False
    for line in text.splitlines():
        if line.startswith('kernels, largest first'):
            in_kernels = True
            continue
        m = PART.match(line)
        if m and not in_kernels:
            parts[re.split(r'[,(]', m.group(3))[0].strip()] = int(m.group(1))
            continue
        m = re.match(r'^\s*(\d+)\s+(k\.\S+)$', line)
        if m and in_kernels:
            kernels.append((int(m.group(1)), m.group(2)))
    m = re.search(r'^\s*(\d+)\s+zero-filled', text, re.M)
    return parts, kernels, int(m.group(1)) if m else None


def sections(exe, readelf='readelf'):
    """[(name, type, size, flags)] from readelf -S."""
    out = subprocess.run([readelf, '-S', '-W', exe], capture_output=True, text=True).stdout
    rows = []
    for m in re.finditer(r'^\s*\[\s*\d+\]\s+(\S*)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([A-Za-z]*)',
                         out, re.M):
        rows.append((m.group(1), m.group(2), int(m.group(3), 16), m.group(4)))
    return rows


def kernel_symbols(exe, readelf='readelf'):
    out = subprocess.run([readelf, '-s', '-W', exe], capture_output=True, text=True).stdout
    return {m.group(2): int(m.group(1)) for m in re.finditer(r'^\s*\d+:\s+[0-9a-f]+\s+(\d+)\s+FUNC\s+\S+\s+\S+\s+\S+\s+(k\.\S+)$',
                                                             out, re.M)}


st = open(os.path.join(src, 'models', 'tiny', 'model.safetensors'), 'rb').read()
header = json.loads(st[8:8 + struct.unpack('<Q', st[:8])[0]])
tensor_bytes = sum(v['data_offsets'][1] - v['data_offsets'][0] for k, v in header.items() if k != '__metadata__')


def check_exe(tag, exe, readelf='readelf', weights=tensor_bytes):
    p = kiln_run('size', exe, '--all')
    check('%s: kiln size succeeds' % tag, p.returncode == 0 and p.stderr == '', p.stderr)
    print(p.stdout)
    parts, kernels, bss = parse(p.stdout)
    loaded = parts.pop('loaded sections', None)
    secs = sections(exe, readelf)
    alloc = sum(s for _, t, s, f in secs if 'A' in f and t != 'NOBITS')
    check('%s: loaded sections as readelf counts them' % tag, loaded == alloc, (loaded, alloc))
    check('%s: the parts add up to the loaded sections' % tag, sum(parts.values()) == loaded, (sum(parts.values()), loaded))
    check('%s: .bss apart' % tag, bss == sum(s for _, t, s, f in secs if 'A' in f and t == 'NOBITS'), bss)
    size = os.path.getsize(exe)
    rest = size - loaded - sum(s for _, t, s, f in secs if 'A' not in f and t != 'NOBITS') - 64 * len(secs)
    check('%s: loaded + other sections + headers = the file, within 64 KiB of padding' % tag, 0 <= rest <= 65536, rest)
    check('%s: weights are the safetensors tensor bytes (none embedded: 0)' % tag, parts.get('weights') == weights,
          (parts.get('weights'), weights))
    check('%s: a tokenizer, forward, runtime, libc' % tag,
          all(parts.get(k, 0) > 0 for k in ('tokenizer', 'forward', 'runtime code', 'libc and start-up code')), parts)
    syms = kernel_symbols(exe, readelf)
    check('%s: --all lists every k.* function with its size' % tag, dict((n, b) for b, n in kernels) == syms,
          (len(kernels), len(syms)))
    check('%s: kernels total' % tag, parts.get('kernels') == sum(syms.values()), (parts.get('kernels'), sum(syms.values())))
    check('%s: largest first' % tag, [b for b, _ in kernels] == sorted((b for b, _ in kernels), reverse=True))
    parts['loaded sections'] = loaded
    return parts


with tempfile.TemporaryDirectory() as tmp:
    exe = os.path.join(tmp, 'tiny')
    check('compile', kiln_run('compile', model, '-o', exe, '-q').returncode == 0)
    check_exe('x86-64', exe)
    p = kiln_run('size', exe, '-n', '3')
    listed = [l for l in p.stdout.splitlines() if re.match(r'^\s*\d+\s+k\.', l)]
    check('-n 3 lists three kernels and says how many more', len(listed) == 3 and '--all lists them' in p.stdout, listed)
    p = kiln_run('size', exe)
    check('ten by default', len([l for l in p.stdout.splitlines() if re.match(r'^\s*\d+\s+k\.', l)]) == 10)
    check('the header names the machine', 'ELF64 x86-64' in p.stdout, p.stdout[:200])

    ext = os.path.join(tmp, 'ext')
    check('compile --weights=external', kiln_run('compile', model, '-o', ext, '--weights=external', '-q').returncode == 0)
    check_exe('external weights', ext, weights=0)

    if '--selftest' in kiln_run('compile', '--help').stdout:
        # the expected logits (kiln_selftest, sized by kiln_model) are other data
        st_exe = os.path.join(tmp, 'selftest')
        check('compile --selftest', kiln_run('compile', model, '-o', st_exe, '--selftest', '-q').returncode == 0)
        parts = check_exe('--selftest', st_exe)
        check('--selftest: the logits are other data', parts.get('other data', 0) > 256 * 4, parts)

    if shutil.which('aarch64-linux-gnu-gcc') and shutil.which('aarch64-linux-gnu-readelf'):
        arm = os.path.join(tmp, 'arm')
        p = kiln_run('compile', model, '-o', arm, '--target', 'aarch64-linux-gnu', '-q')
        if p.returncode == 0:
            check_exe('aarch64', arm, 'aarch64-linux-gnu-readelf')
            check('aarch64: the header names the machine', 'ELF64 AArch64' in kiln_run('size', arm).stdout)
        else:
            check('compile for aarch64', False, p.stderr)
    else:
        print('SKIP aarch64: aarch64-linux-gnu-gcc is not installed')

    # damaged copies: cut short anywhere, or header and section-header bytes changed; kiln
    # size must say so or cope (status 0 or 1), never crash
    import random
    rng = random.Random(7)
    good = open(exe, 'rb').read()
    shoff = struct.unpack_from('<Q', good, 40)[0]
    bad = []
    for i in range(120):
        data = bytearray(good)
        if i % 3 == 0:
            data = data[:rng.randrange(len(good))]
        else:
            for _ in range(rng.randrange(1, 6)):
                at = rng.randrange(64) if i % 3 == 1 else shoff + rng.randrange(len(good) - shoff)
                data[at] = rng.randrange(256)
        damaged = os.path.join(tmp, 'damaged')
        open(damaged, 'wb').write(data)
        p = subprocess.run([kiln_path, 'size', damaged, '--all'], capture_output=True, text=True)
        if p.returncode not in (0, 1) or 'Sanitizer' in p.stderr or 'runtime error' in p.stderr \
                or (p.returncode == 1 and 'damaged: error:' not in p.stderr):
            bad.append((i, p.returncode, p.stderr[-200:]))
    check('120 damaged copies: an error naming the file or a report, no crash', not bad, bad[:3])

    # the runtime's own sources, as size.c lists them, are the runtime/meson.build ones
    build = open(os.path.join(src, 'runtime', 'meson.build')).read()
    want = set(re.findall(r"'([a-z_0-9]+\.c)'", re.search(r'rt_exe_src = \[(.*?)\]', build, re.S).group(1)))
    size_c = open(os.path.join(src, 'driver', 'size.c')).read()
    have = set(re.findall(r'"([a-z_0-9]+\.c)"', re.search(r'runtime_files\[\] = \{(.*?)\};', size_c, re.S).group(1)))
    check("driver/size.c knows the runtime's sources", want == have, (sorted(want - have), sorted(have - want)))
finish()
