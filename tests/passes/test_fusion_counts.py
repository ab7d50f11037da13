#!/usr/bin/env python3
"""test_fusion_counts.py KILN SOURCE — on every bundled model, every reference case and an
imported one, `kiln compile --fusion-report` shows every layer's attention, residual+norm and
(LLaMA) SwiGLU unit fused.

The expected counts come from each family's architecture and the model's own `n_layer`
parameter (read from its XML), never from kiln's output. Per family, with L = n_layer:

  gpt2, gpt3  pre-LN: ln_1 of each block reads a sum (block 0: token + position embeddings,
              then the previous block's output), ln_2 reads x + attention, and the final ln_f
              reads the last block's sum: 2L + 1 add+layernorm, all of the candidates.
              Attention: L of L (gpt3: the banded layers' window mask fuses like the causal one).
  gpt1        post-LN: ln_1 = LN(x + attention), ln_2 = LN(n + MLP), no final norm, and the
              embedding sum feeds the first attention, not a norm: 2L of 2L. Attention L of L.
  llama       pre-RMSNorm: every norm reads a sum except block 0's attention_norm, which reads
              the token embedding alone (nothing to add): 2L of 2L + 1 add+rmsnorm. Attention
              L of L, and the SwiGLU unit silu(x·W1) * (x·W3) is one `gated_linear act="silu"`
              in every layer: L of them in the IR, and no `silu` op left over.
  bert        post-LN encoder: the embeddings' norm reads word + position + type, each layer
              has two post-LN norms: 1 + 2L of 1 + 2L. Attention L of L, the padding mask
              (`valid`) fused with it in every layer.
  electra     the discriminator: BERT's layers; its embeddings' norm reads the sum of width E
              before embeddings_project, and the head has no norm: 1 + 2L of 1 + 2L.
              Attention L of L.
  albert,     BERT's post-LN layers (ALBERT: one set of tensors applied L times; DistilBERT:
  distilbert  word + position embeddings, sa_layer_norm and output_layer_norm): 1 + 2L norms
              of sums, and one more candidate that cannot fuse, the MLM head's norm of
              gelu(dense(hidden)), not of a sum: 1 + 2L of 2 + 2L. Attention L of L
              (DistilBERT scales q before q·kᵀ, ALBERT the scores).
  transformer the encoder-decoder (1 + 1 layers, no n_layer): encoder 2 norms, decoder 3,
              attention 1 + 2 (encoder self, decoder self and cross). With n_enc and n_dec
              (models/seq2seq-numbers, the KV-cache form): 2 n_enc + 3 n_dec norms of sums of
              that plus 2 (each stack's final norm, as nn.Transformer, reads no sum);
              attention n_enc + 2 n_dec — the decoder's self-attention over its KV cache and
              its cross-attention over the keys and values encode stored.

Beyond the counts, the fused IR (--emit=ir) is read: one `attention` node per layer; for the
encoders (bert, albert, electra, distilbert) each reads the padding mask `valid`, and for
gpt3 each carries the window its layer's mask had (the `band` parameter in odd layers, none in
even ones, docs/model-format.md): a fusion that dropped or moved the window would still count.

Weights: a model is compiled with its weight files when they are present (real dtypes), and
with --no-weights (the description alone) otherwise, with a message saying so: models/gpt2
(124M weights not in the repository), and llama2xs and the makemore cases when ../shared is
absent. gpt2-b has no model.xml: it is imported with `kiln import` first."""
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

kiln, src = os.path.abspath(sys.argv[1]), sys.argv[2]

MODELS = [
    'models/gpt2/model.xml',
    'models/tiny/model.xml',
    'tests/ref/gpt2-a/model.xml',
    'tests/ref/gpt1/model.xml',
    'tests/ref/gpt3/model.xml',
    'tests/ref/makemore-names/model.xml',
    'tests/ref/makemore-tr-names/model.xml',
    'tests/ref/llama-interleaved/model.xml',
    'tests/ref/llama-half/model.xml',
    'tests/ref/llama2xs/model.xml',
    'tests/ref/bert/model.xml',
    'tests/ref/albert/model.xml',
    'tests/ref/electra/model.xml',
    'tests/ref/distilbert/model.xml',
    'tests/ref/encdec/model.xml',
    'models/seq2seq-numbers/model.xml',
]


def expected(family, L, params=None):
    """{fusion: (fused, candidates)} of a family with L layers (see the docstring)."""
    if family in ('gpt2', 'gpt3'):
        return {'attention': (L, L), 'add+layernorm': (2 * L + 1, 2 * L + 1)}
    if family == 'gpt1':
        return {'attention': (L, L), 'add+layernorm': (2 * L, 2 * L)}
    if family == 'llama':
        return {'attention': (L, L), 'add+rmsnorm': (2 * L, 2 * L + 1)}
    if family in ('bert', 'electra'):
        return {'attention': (L, L), 'add+layernorm': (1 + 2 * L, 1 + 2 * L)}
    if family in ('albert', 'distilbert'):
        return {'attention': (L, L), 'add+layernorm': (1 + 2 * L, 2 + 2 * L)}
    if family == 'transformer' and params and 'n_enc' in params:    # + each stack's final norm, of no sum
        e, d = int(params['n_enc']), int(params['n_dec'])
        return {'attention': (e + 2 * d, e + 2 * d), 'add+layernorm': (2 * e + 3 * d, 2 * e + 3 * d + 2)}
    if family == 'transformer':
        return {'attention': (1 + 2, 1 + 2), 'add+layernorm': (2 + 3, 2 + 3)}
    return None


def model_facts(path):
    """(family, params, weight files) from the XML; params are the literal values."""
    root = ET.parse(path).getroot()
    params = {p.get('name'): p.get('value') for p in root.iter('param')}
    base = os.path.dirname(path)
    files = [os.path.normpath(os.path.join(base, w.get('file'))) for w in root.iter('weights')]
    return root.get('family'), params, files


def compile_ir(model, tmp, no_weights):
    out = os.path.join(tmp, 'out.kir')
    rep = os.path.join(tmp, 'report')
    cmd = [kiln, 'compile', model, '--emit=ir', '-o', out, '--fusion-report=' + rep]
    if no_weights:
        cmd.append('--no-weights')
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return None, None, None, 'kiln exited %d\n%s' % (p.returncode, p.stderr)
    text = open(rep).read()
    counts = {m.group(1): (int(m.group(2)), int(m.group(3)))
              for m in re.finditer(r'^(\S+): (\d+)/(\d+)$', text, re.M)}
    return text, counts, open(out).read(), None


failures = 0


def verdict(ok, name, what):
    global failures
    print('%s %s: %s' % ('ok  ' if ok else 'FAIL', name, what))
    return ok


with tempfile.TemporaryDirectory() as tmp:
    imported = os.path.join(tmp, 'gpt2-b.xml')
    p = subprocess.run([kiln, 'import', os.path.join(src, 'tests', 'ref', 'gpt2-b'), '-o', imported],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print('FAIL import gpt2-b:\n' + p.stderr)
        sys.exit(1)
    for model in [os.path.join(src, m) for m in MODELS] + [imported]:
        name = 'tests/ref/gpt2-b (imported)' if model == imported else os.path.relpath(model, src)
        family, params, files = model_facts(model)
        missing = [f for f in files if not os.path.exists(f)]
        if missing:
            print('note %s: %s absent: checked on the description alone (--no-weights)'
                  % (name, ', '.join(os.path.relpath(f, src) if f.startswith(os.path.abspath(src)) else f
                                     for f in missing)))
        L = int(params['n_layer']) if 'n_layer' in params else None
        want = expected(family, L, params) if (L is not None or family == 'transformer') else None
        if want is None:
            failures += 1
            verdict(False, name, 'family %r with n_layer %r: no expectation in this test' % (family, L))
            continue
        text, got, ir, err = compile_ir(model, tmp, bool(missing))
        if err:
            failures += 1
            verdict(False, name, err)
            continue
        bad = False
        for fusion, (want_fused, want_all) in want.items():
            fused, candidates = got.get(fusion, (0, 0))
            bad |= not verdict(fused == want_fused and candidates == want_all, name,
                               '%s %d/%d, want %d/%d (%s, n_layer %s)' % (fusion, fused, candidates, want_fused,
                                                                        want_all, family, L))
        # the fused IR: one attention node per layer, in layer order
        atts = re.findall(r'^\s*%\S+ = attention .*$', ir, re.M)
        bad |= not verdict(len(atts) == want['attention'][0], name, '%d attention nodes in the IR, want %d'
                           % (len(atts), want['attention'][0]))
        if family in ('bert', 'albert', 'electra', 'distilbert'):
            masked = [a for a in atts if re.search(r' = attention %[^,]+, %[^,]+, %[^,]+, %valid\b', a)]
            bad |= not verdict(len(masked) == len(atts), name, '%d of %d attention nodes read the padding mask '
                               'valid' % (len(masked), len(atts)))
        if family == 'gpt3':
            band = int(params['band'])
            windows = [int(m.group(1)) if m else 0 for m in (re.search(r' window=(\d+)', a) for a in atts)]
            want_w = [band if i % 2 else 0 for i in range(L)]
            bad |= not verdict(windows == want_w, name, 'attention windows by layer %s, want %s (band %d in odd '
                               'layers)' % (windows, want_w, band))
        if family == 'llama':
            gated = re.findall(r'^\s*%\S+ = gated_linear .*act="silu"', ir, re.M)
            silu = re.findall(r'^\s*%\S+ = silu ', ir, re.M)
            bad |= not verdict(len(gated) == L and not silu, name, 'SwiGLU: %d gated_linear act="silu", %d silu '
                               'left, want %d and 0' % (len(gated), len(silu), L))
        if bad:
            failures += 1
            print(text)
print('%d failures' % failures if failures else 'PASS')
sys.exit(1 if failures else 0)
