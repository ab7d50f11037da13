#!/usr/bin/env python3
"""make_files.py — writes the small weight files the bad-input cases use (committed; rerun
to regenerate). w.safetensors is valid: a F32[4,4], b F32[4], h F16[4,4], i I64[2]. The
others are broken on purpose, each in one way."""
import json
import math
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

# ---- kiln import: llama2.c checkpoints and Hugging Face LLaMA folders, each broken one way ----
# The good shape: dim 8, hidden 16, 1 layer, 2 heads, 1 kv head (head size 4), vocab 16, seq 4.
L2C = dict(dim=8, hidden=16, layers=1, heads=2, kv=1, vocab=16, seq=4)


def l2c_bin(untied=False, **over):
    """A llama2.c checkpoint (version 0) of L2C's shape; over changes header fields only."""
    c = dict(L2C)
    dim, hidden, layers, heads, kv, vocab, seq = (c[k] for k in ('dim', 'hidden', 'layers', 'heads', 'kv', 'vocab', 'seq'))
    hd = dim // heads
    n = vocab * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv * hd * dim + 3 * hidden * dim) + dim
    freqs = [1.0 / 10000.0 ** (2 * m / hd) for m in range(hd // 2)]   # llama2.c's RoPE tables
    tables = [math.cos(t * f) for t in range(seq) for f in freqs] + [math.sin(t * f) for t in range(seq) for f in freqs]
    c.update(over)
    v = c['vocab'] if 'vocab' in over else (-vocab if untied else vocab)
    hdr = struct.pack('<7i', c['dim'], c['hidden'], c['layers'], c['heads'], c['kv'], v, c['seq'])
    weights = [0.01 * (i % 97) for i in range(n)]
    return hdr + st.from_list('F32', weights + tables + (weights[:vocab * dim] if untied else []))


def put(name, data):
    open(os.path.join(cases, name), 'wb').write(data)


good = l2c_bin()
put('l2c-ok.bin', good)
put('l2c-short.bin', good[:20])
put('l2c-truncated.bin', good[:-12])
put('l2c-shared-mixup.bin', l2c_bin(untied=True, vocab=16))      # a wcls the header does not announce
put('l2c-unshared-mixup.bin', l2c_bin(vocab=-16))                 # announces a wcls that is not there
put('l2c-zero-dim.bin', l2c_bin(dim=0))
put('l2c-negative-layers.bin', l2c_bin(layers=-2))
put('l2c-zero-vocab.bin', l2c_bin(vocab=0))
put('l2c-heads.bin', l2c_bin(heads=3))                            # 8 % 3
put('l2c-kv-heads.bin', l2c_bin(heads=4, kv=3))                   # 4 % 3
put('l2c-odd-head.bin', l2c_bin(heads=8, kv=1))                   # head size 1
put('l2c-huge-vocab.bin', l2c_bin(vocab=-2 ** 31))                # |INT32_MIN|: no overflow, no UB
put('l2c-huge-layers.bin', l2c_bin(layers=2 ** 31 - 1))
put('l2c-version1.bin', struct.pack('<Ii', 0x616b3432, 1) + good[8:])


def l2c_tokenizer(n):
    """A llama2.c tokenizer.bin of n tokens: <unk>, <s>, </s>, then short pieces."""
    pieces = [b'<unk>', b'\n<s>\n', b'\n</s>\n'] + [b'p%d' % k for k in range(n - 3)]
    out = struct.pack('<i', max(len(p) for p in pieces))
    for k, p in enumerate(pieces):
        out += struct.pack('<fi', -float(k), len(p)) + p
    return out


put('l2c-tok16.bin', l2c_tokenizer(16))      # as many tokens as l2c-ok.bin's vocabulary
put('l2c-tok12.bin', l2c_tokenizer(12))      # fewer
put('l2c-tok20.bin', l2c_tokenizer(20))      # more


def hf_folder(name, drop=(), reshape=None, files=True, **cfg_over):
    """A Hugging Face LLaMA folder of L2C's shape; cfg_over edits config.json (None deletes)."""
    folder = os.path.join(cases, name)
    os.makedirs(folder, exist_ok=True)
    cfg = {'model_type': 'llama', 'hidden_size': 8, 'intermediate_size': 16, 'num_hidden_layers': 1,
           'num_attention_heads': 2, 'num_key_value_heads': 1, 'vocab_size': 16, 'max_position_embeddings': 4,
           'rms_norm_eps': 1e-5, 'tie_word_embeddings': False}
    for k, v in cfg_over.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(cfg, f)
    if not files:
        return
    shapes = {'model.embed_tokens.weight': [16, 8], 'model.norm.weight': [8], 'lm_head.weight': [16, 8],
              'model.layers.0.input_layernorm.weight': [8], 'model.layers.0.post_attention_layernorm.weight': [8],
              'model.layers.0.self_attn.q_proj.weight': [8, 8], 'model.layers.0.self_attn.k_proj.weight': [4, 8],
              'model.layers.0.self_attn.v_proj.weight': [4, 8], 'model.layers.0.self_attn.o_proj.weight': [8, 8],
              'model.layers.0.mlp.gate_proj.weight': [16, 8], 'model.layers.0.mlp.up_proj.weight': [16, 8],
              'model.layers.0.mlp.down_proj.weight': [8, 16]}
    if reshape:
        shapes.update(reshape)
    ts = []
    for n, shape in shapes.items():
        if n in drop:
            continue
        k = 1
        for s in shape:
            k *= s
        ts.append((n, 'F32', shape, st.from_list('F32', [0.01 * (i % 89) for i in range(k)])))
    st.write(os.path.join(folder, 'model.safetensors'), ts)


hf_folder('hf-ok')
hf_folder('hf-missing-field', files=False, hidden_size=None)
hf_folder('hf-wrong-type', files=False, num_attention_heads='2')
hf_folder('hf-bool-type', files=False, tie_word_embeddings='yes')
hf_folder('hf-rope-scaling', files=False, rope_scaling={'type': 'linear', 'factor': 2.0})
hf_folder('hf-attention-bias', files=False, attention_bias=True)
hf_folder('hf-activation', files=False, hidden_act='gelu')
hf_folder('hf-heads', files=False, num_attention_heads=3)
hf_folder('hf-kv-heads', files=False, num_attention_heads=4, num_key_value_heads=3)
hf_folder('hf-eos', files=False, eos_token_id=99)
hf_folder('hf-missing-tensor', drop=('model.layers.0.mlp.up_proj.weight',))
hf_folder('hf-no-lm-head', drop=('lm_head.weight',))
hf_folder('hf-wrong-shape', reshape={'model.layers.0.self_attn.k_proj.weight': [8, 8]})
hf_folder('hf-bad-index', files=False)
with open(os.path.join(cases, 'hf-bad-index', 'model.safetensors.index.json'), 'w') as f:
    json.dump({'weight_map': {'model.embed_tokens.weight': 'model-00001-of-00002.safetensors'}}, f)
os.makedirs(os.path.join(cases, 'hf-not-json'), exist_ok=True)
open(os.path.join(cases, 'hf-not-json', 'config.json'), 'w').write('{"model_type": "llama", "hidden_size": 8,,}\n')
