#!/usr/bin/env python3
"""test_shared_weights.py KILN SOURCE — a tensor that several layers name is stored once in an
executable, and identical layers share their kernels (ALBERT's cross-layer sharing, on decoders
that kiln can make executables of).

Two models are rewritten so that every layer names layer 0's tensors (the same `tensor` in each
iteration of the `repeat`, as an ALBERT description does):
  - models/tiny (GPT-2, Conv1D weights [in, out]: pack-weights reads them transposed);
  - tests/ref/llama-half (separate wq, wk, wv: merge-qkv reads them as one concatenation).
Each is compiled, original and shared, and checked:
  - `kiln size`: the weights blob holds the bytes of the tensors the model names, each once —
    computed here from the safetensors header, not from kiln (every tensor of these files is a
    multiple of 64 bytes, the blob's alignment, so no padding enters the sum; asserted);
  - readelf: every kernel symbol is named after layer 0 (k.l0.*) or after a node outside the
    layers, and the shared model has as many kernels as the original: identical layers, one
    set of kernels;
  - the shared executable's logits (--tokens --logits) match the interpreter's on the same
    description (`kiln run`), and differ from the original model's: the sharing is real."""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
from common import check, finish, kiln, kiln_run, src

TOKENS = '1,5,9,3,7,2'

CASES = [
    # name, folder, description, weights file, per-layer tensor prefix (regex, and layer 0's)
    ('tiny', os.path.join(src, 'models', 'tiny'), 'model.xml', 'model.safetensors',
     r'\{p\}h\.\{i\}\.', '{p}h.0.', r'^transformer\.h\.(\d+)\.'),
    ('llama-half', os.path.join(src, 'tests', 'ref', 'llama-half'), 'model.xml', 'weights.safetensors',
     r'layers\.\{i\}\.', 'layers.0.', r'^layers\.(\d+)\.'),
]


def tensor_bytes(path):
    """{name: bytes} from a safetensors header."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
    return {k: v['data_offsets'][1] - v['data_offsets'][0] for k, v in header.items() if k != '__metadata__'}


def blob_weights(exe):
    p = kiln_run('size', exe)
    m = re.search(r'^\s*(\d+)\s+[\d.]+%\s+weights', p.stdout, re.M)
    return int(m.group(1)) if m else None


def kernels(exe):
    out = subprocess.run(['readelf', '-s', '-W', exe], capture_output=True, text=True).stdout
    return sorted(set(re.findall(r'\sFUNC\s+\S+\s+\S+\s+\S+\s+(k\.\S+)$', out, re.M)))


def logits(cmd):
    with tempfile.NamedTemporaryFile(suffix='.f32') as f:
        p = subprocess.run(cmd + ['--tokens', TOKENS, '--logits', f.name], capture_output=True, text=True,
                           timeout=300)
        if p.returncode:
            print('$ %s\n%s' % (' '.join(cmd), p.stderr))
            return None
        data = open(f.name, 'rb').read()
    return struct.unpack('<%df' % (len(data) // 4), data)


def maxdiff(a, b):
    return max(abs(x - y) for x, y in zip(a, b)), max(abs(y) for y in b)


with tempfile.TemporaryDirectory() as tmp:
    for name, folder, xml, wfile, layer_re, layer0, tensor_layer in CASES:
        d = os.path.join(tmp, name)
        os.mkdir(d)
        for f in os.listdir(folder):       # the weights and tokenizer files beside the descriptions
            if not f.endswith('.xml'):
                os.symlink(os.path.join(folder, f), os.path.join(d, f))
        text = open(os.path.join(folder, xml)).read()
        shared_text, n_sub = re.subn(layer_re, layer0, text)
        check('%s: the description names per-layer tensors to rewrite' % name, n_sub > 0, n_sub)
        orig_xml, shared_xml = os.path.join(d, 'orig.xml'), os.path.join(d, 'shared.xml')
        open(orig_xml, 'w').write(text)
        open(shared_xml, 'w').write(shared_text)

        sizes = tensor_bytes(os.path.join(folder, wfile))
        check('%s: every tensor a multiple of 64 bytes (no blob padding)' % name,
              all(b % 64 == 0 for b in sizes.values()))
        def layer(t):
            m = re.match(tensor_layer, t)
            return int(m.group(1)) if m else None
        named = [t for t in sizes if layer(t) in (None, 0)]     # all but layers 1, 2, ...
        want = {'orig': sum(sizes.values()), 'shared': sum(sizes[t] for t in named)}
        check('%s: sharing leaves fewer bytes to store' % name, want['shared'] < want['orig'], want)

        exe, ks, out = {}, {}, {}
        for tag, path in [('orig', orig_xml), ('shared', shared_xml)]:
            exe[tag] = os.path.join(d, tag)
            p = kiln_run('compile', path, '-o', exe[tag], '-q')
            check('%s/%s: compiles' % (name, tag), p.returncode == 0, p.stderr)
            if p.returncode:
                continue
            got = blob_weights(exe[tag])
            check('%s/%s: weights blob = the named tensors once (%s bytes)' % (name, tag, want[tag]),
                  got == want[tag], (got, want[tag]))
            ks[tag] = kernels(exe[tag])
            other = [k for k in ks[tag] if re.match(r'k\.l[1-9]\d*\.', k)]
            check('%s/%s: kernels named after layer 0 only' % (name, tag), ks[tag] and not other, other)
            out[tag] = logits([exe[tag]])
        if len(ks) == 2:
            check('%s: as many kernels shared as not (%d)' % (name, len(ks['orig'])),
                  len(ks['shared']) == len(ks['orig']), (len(ks['shared']), len(ks['orig'])))
        ref = logits([kiln, 'run', shared_xml])
        if out.get('shared') and ref:
            diff, peak = maxdiff(out['shared'], ref)
            check('%s: shared executable vs interpreter, logits within 1e-4 relative' % name,
                  len(out['shared']) == len(ref) and diff <= 1e-4 * peak, (diff, peak))
        if out.get('shared') and out.get('orig'):
            diff, peak = maxdiff(out['shared'], out['orig'])
            check('%s: shared and original logits differ (the sharing is real)' % name, diff > 1e-2 * peak,
                  (diff, peak))
finish()
