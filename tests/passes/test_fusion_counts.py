#!/usr/bin/env python3
"""test_fusion_counts.py KILN SOURCE — on every bundled model, every reference case and an
imported one, the fusion report shows each layer's attention and norms fused.

The expected counts come from each architecture, not from kiln: a GPT-2 or LLaMA block has
one attention and two norms and the stack ends with one more norm; BERT's embeddings end in
a norm and each post-LN block has two; the encoder-decoder has encoder self-attention,
decoder self- and cross-attention. Every norm reading a sum fuses with it: all of GPT-2's
(its embeddings are a sum of token and position embeddings), all but the first of LLaMA's
(the first reads the token embedding alone, there is nothing to add). `--no-weights` reads the descriptions alone, so models
whose weights are elsewhere (GPT-2 124M) are covered too; gpt2-b is imported with
`kiln import` first."""
import os
import re
import subprocess
import sys
import tempfile

kiln, src = os.path.abspath(sys.argv[1]), sys.argv[2]

# model: {fusion: sites fused} or {fusion: (fused, candidates)}
CASES = {
    'models/gpt2/model.xml': {'attention': 12, 'add+layernorm': 2 * 12 + 1},
    'models/tiny/model.xml': {'attention': 4, 'add+layernorm': 2 * 4 + 1},
    'tests/ref/gpt2-a/model.xml': {'attention': 2, 'add+layernorm': 2 * 2 + 1},
    'tests/ref/makemore-names/model.xml': {'attention': 4, 'add+layernorm': 2 * 4 + 1},
    'tests/ref/makemore-tr-names/model.xml': {'attention': 4, 'add+layernorm': 2 * 4 + 1},
    'tests/ref/llama-half/model.xml': {'attention': 2, 'add+rmsnorm': (2 * 2, 2 * 2 + 1)},
    'tests/ref/llama-interleaved/model.xml': {'attention': 2, 'add+rmsnorm': (2 * 2, 2 * 2 + 1)},
    'tests/ref/llama2xs/model.xml': {'attention': 5, 'add+rmsnorm': (2 * 5, 2 * 5 + 1)},
    'tests/ref/bert/model.xml': {'attention': 2, 'add+layernorm': 1 + 2 * 2},
    'tests/ref/encdec/model.xml': {'attention': 1 + 2, 'add+layernorm': 2 + 3},
}


def report(model, tmp):
    out = os.path.join(tmp, 'out.kir')
    rep = os.path.join(tmp, 'report')
    p = subprocess.run([kiln, 'compile', model, '--emit=ir', '--no-weights', '-o', out, '--fusion-report=' + rep],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print('FAIL %s: kiln exited %d\n%s' % (model, p.returncode, p.stderr))
        sys.exit(1)
    text = open(rep).read()
    return text, {m.group(1): (int(m.group(2)), int(m.group(3)))
                  for m in re.finditer(r'^(\S+): (\d+)/(\d+)$', text, re.M)}


failures = 0
with tempfile.TemporaryDirectory() as tmp:
    imported = os.path.join(tmp, 'gpt2-b.xml')
    p = subprocess.run([kiln, 'import', os.path.join(src, 'tests', 'ref', 'gpt2-b'), '-o', imported],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print('FAIL import gpt2-b:\n' + p.stderr)
        sys.exit(1)
    cases = {os.path.join(src, k): v for k, v in CASES.items()}
    cases[imported] = {'attention': 3, 'add+layernorm': 2 * 3 + 1}     # n_layer 3: tests/ref/gpt2-b/config.json
    for model, want in cases.items():
        text, got = report(model, tmp)
        bad = False
        for fusion, sites in want.items():
            want_fused, want_all = sites if isinstance(sites, tuple) else (sites, sites)
            fused, candidates = got.get(fusion, (0, 0))
            ok = fused == want_fused and candidates == want_all
            bad |= not ok
            print('%s %s: %s %d/%d, want %d/%d' % ('ok  ' if ok else 'FAIL', os.path.relpath(model, src), fusion,
                                                  fused, candidates, want_fused, want_all))
        if bad:
            failures += 1
            print(text)
print('%d failures' % failures if failures else 'PASS')
sys.exit(1 if failures else 0)
