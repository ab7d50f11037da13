#!/usr/bin/env python3
"""make_files.py — writes the small weight files the bad-input cases use (committed; rerun
to regenerate). w.safetensors is valid: a F32[4,4], b F32[4], h F16[4,4], i I64[2]. The
others are broken on purpose, each in one way."""
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, '..', 'ref'))
import safetensors_io as st  # noqa: E402

cases = os.path.join(here, 'cases')
a = st.from_list('F32', [0.1 * i for i in range(16)])
b = st.from_list('F32', [1.0, -1.0, 0.5, 2.0])
h = struct.pack('<16H', *([0x3c00] * 16))      # f16 ones
i64 = struct.pack('<2q', 1, 2)
st.write(os.path.join(cases, 'w.safetensors'),
         [('a', 'F32', [4, 4], a), ('b', 'F32', [4], b), ('h', 'F16', [4, 4], h), ('i', 'I64', [2], i64)])
good = open(os.path.join(cases, 'w.safetensors'), 'rb').read()
open(os.path.join(cases, 'truncated.safetensors'), 'wb').write(good[:-20])
open(os.path.join(cases, 'empty.safetensors'), 'wb').write(b'')
# header length larger than the file
open(os.path.join(cases, 'lying-header.safetensors'), 'wb').write(struct.pack('<Q', 1 << 40) + good[8:])
# offsets that overflow: end at 2^64 - 1
hdr = b'{"a":{"dtype":"F32","shape":[4,4],"data_offsets":[0,18446744073709551615]}}'
hdr += b' ' * (-len(hdr) % 8)
open(os.path.join(cases, 'overflow.safetensors'), 'wb').write(struct.pack('<Q', len(hdr)) + hdr + a)
