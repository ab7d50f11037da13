#!/usr/bin/env python3
"""test_import.py KILN SOURCE — `kiln import` of a Hugging Face GPT-2 folder gives a model
whose outputs match PyTorch.

tests/ref/gpt2-b is such a folder (config.json, model.safetensors with `transformer.` names,
tied head; made by tests/ref/make_refs.py). The import is written into a scratch directory,
so its paths must lead back to the folder; then the interpreter runs it on the reference
inputs and tests/ref/compare.py checks the logits against PyTorch's. The folder is also
imported from a copy with the names stripped of `transformer.`, as Hugging Face's GPT2Model
saves them."""
import os
import subprocess
import sys
import tempfile

kiln, src = os.path.abspath(sys.argv[1]), sys.argv[2]
case = os.path.join(src, 'tests', 'ref', 'gpt2-b')
sys.path.insert(0, os.path.join(src, 'tests', 'ref'))
import safetensors_io as st  # noqa: E402


def run(*args):
    p = subprocess.run(list(args), capture_output=True, text=True)
    print('$ %s\n%s%s' % (' '.join(args), p.stdout, p.stderr))
    if p.returncode != 0:
        print('FAIL: exit status %d' % p.returncode)
        sys.exit(1)


def check(folder, tmp, tag):
    xml = os.path.join(tmp, tag + '.xml')
    out = os.path.join(tmp, tag + '.out.safetensors')
    run(kiln, 'import', folder, '-o', xml)
    run(kiln, 'check', xml)
    run(kiln, 'run', xml, '--inputs', os.path.join(case, 'inputs.safetensors'), '--dump', out)
    run(sys.executable, os.path.join(src, 'tests', 'ref', 'compare.py'), os.path.join(case, 'expected.safetensors'), out)


with tempfile.TemporaryDirectory() as tmp:
    check(case, tmp, 'prefixed')
    bare = os.path.join(tmp, 'bare')
    os.mkdir(bare)
    tensors = st.read(os.path.join(case, 'weights.safetensors'))
    st.write(os.path.join(bare, 'model.safetensors'),
             [(n[len('transformer.'):] if n.startswith('transformer.') else n, t[0], t[1], t[2]) for n, t in tensors.items()])
    os.symlink(os.path.join(case, 'config.json'), os.path.join(bare, 'config.json'))
    check(bare, tmp, 'bare')
print('PASS')
