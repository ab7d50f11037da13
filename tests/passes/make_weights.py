#!/usr/bin/env python3
"""make_weights.py — writes qkv.safetensors, the weights of the merge-qkv pass tests
(committed; rerun to regenerate): a grouped-query attention's projections of width 4,
wq F32[4,4], wk F32[2,4], wv F32[2,4] stored [out, in], their biases bq F32[4], bk F32[2],
bv F32[2], and wt F32[4,2], a key projection stored [in, out], and wh F16[2,4]."""
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, '..', 'ref'))
import safetensors_io as st  # noqa: E402


def f32(n, scale):
    return st.from_list('F32', [scale * (i + 1) for i in range(n)])


st.write(os.path.join(here, 'qkv.safetensors'), [
    ('wq', 'F32', [4, 4], f32(16, 0.01)), ('wk', 'F32', [2, 4], f32(8, 0.02)), ('wv', 'F32', [2, 4], f32(8, -0.03)),
    ('bq', 'F32', [4], f32(4, 0.1)), ('bk', 'F32', [2], f32(2, 0.2)), ('bv', 'F32', [2], f32(2, 0.3)),
    ('wt', 'F32', [4, 2], f32(8, 0.05)), ('wh', 'F16', [2, 4], struct.pack('<8H', *([0x3c00] * 8))),
])
