#!/usr/bin/env python3
"""test_import_llama.py KILN SOURCE CASE — `kiln import` of LLaMA models, checked against
references that kiln did not compute.

Cases (meson.build runs each as import/CASE):
  llama2xs-bin     ../shared's llama2xs-tinystories/model.bin (llama2.c, tied, GQA 8/4): the
                   logits of tests/ref/llama2xs (PyTorch) on its inputs, and every tensor of the
                   written safetensors bit-identical to ../shared's model.safetensors (the
                   checkpoint's state_dict), same names, none more, none less.
  stories260k      ../shared's stories260K.bin + tok512.bin: `kiln check` passes (tokenizer
                   built, 512 tokens), and `kiln compile --fusion-report` fuses attention, the
                   residual+RMSNorm pairs and SwiGLU in all 5 layers (counts from the
                   architecture: L of L attention, 2L of 2L+1 add+rmsnorm, L gated_linear).
  untied-bin       tests/import/llama-interleaved.bin (make_fixtures.py: tests/ref/llama-
                   interleaved's weights, unshared classifier, vocab_size -64): the logits of
                   tests/ref/llama-interleaved (PyTorch); tensors bit-identical to that case's
                   weights.safetensors; and the same file read as tied (vocab_size +64, wcls
                   cut off) gives logits that fail the comparison, so a tied/untied mix-up
                   cannot pass. With --tokenizer tok64.bin the XML names it (kind llama2c).
  hf-llama         tests/import/llama-half-hf (make_fixtures.py: tests/ref/llama-half's weights
                   under Hugging Face names + config.json): the logits of tests/ref/llama-half
                   (PyTorch); also split into two shards with model.safetensors.index.json; the
                   tokenizer found (tokenizer.model before tokenizer.json), --tokenizer
                   overriding it, and a folder with a ByteLevel tokenizer.json alone (kind hf).
  hf-llama2xs      ../shared's llama2xs weights converted here to a Hugging Face folder (q and
                   k rows permuted to rotate_half's order, as transformers'
                   convert_llama_weights_to_hf.py does; tie_word_embeddings true): the logits
                   of tests/ref/llama2xs (PyTorch).
Cases that need ../shared skip (exit 77) when it is absent."""
import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile

kiln, src, case = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(src, 'tests', 'ref'))
import safetensors_io as st  # noqa: E402

here = os.path.join(src, 'tests', 'import')
ref = os.path.join(src, 'tests', 'ref')
shared = os.environ.get('KILN_SHARED', os.path.join(src, '..', 'shared'))
failures = 0


def need_shared(rel):
    path = os.path.join(shared, 'models', rel)
    if not os.path.exists(path):
        print('skipped: %s not found (the model lives in ../shared/models beside the source tree)' % path)
        sys.exit(77)
    return path


def run(*args, ok=True):
    p = subprocess.run(list(args), capture_output=True, text=True)
    print('$ %s\n%s%s' % (' '.join(args), p.stdout, p.stderr))
    if ok and p.returncode != 0:
        print('FAIL: exit status %d' % p.returncode)
        sys.exit(1)
    return p


def check(what, cond):
    global failures
    print('%s: %s' % ('ok' if cond else 'FAIL', what))
    failures += not cond


def compare(expected, actual):
    """compare.py's verdict: True when every tensor passes."""
    p = run(sys.executable, os.path.join(ref, 'compare.py'), expected, actual, ok=False)
    if p.returncode == 2:
        print('FAIL: compare.py could not read the files')
        sys.exit(1)
    return p.returncode == 0


def logits_match(xml, refcase, tmp, tag):
    out = os.path.join(tmp, tag + '.out.safetensors')
    run(kiln, 'run', xml, '--inputs', os.path.join(ref, refcase, 'inputs.safetensors'), '--dump', out)
    return compare(os.path.join(ref, refcase, 'expected.safetensors'), out)


def same_tensors(written, reference, what):
    a, b = st.read(written), st.read(reference)
    check('%s: the same tensor names (%d)' % (what, len(b)), sorted(a) == sorted(b))
    diff = [n for n in b if n in a and a[n] != b[n]]
    check('%s: every tensor bit-identical (dtype, shape, bytes)%s' % (what, ': not ' + ', '.join(diff[:5]) if diff else ''),
          not diff)


def tokenizer_of(xml):
    m = re.search(r'<tokenizer kind="([^"]+)" file="([^"]+)"', open(xml).read())
    return (m.group(1), os.path.basename(m.group(2))) if m else None


def weights_of(xml):
    return [os.path.basename(f) for f in re.findall(r'<weights file="([^"]+)"', open(xml).read())]


# ---- cases ---------------------------------------------------------------------------------

def case_llama2xs_bin(tmp):
    d = need_shared('llama2xs-tinystories')
    xml = os.path.join(tmp, 'out', 'model.xml')
    os.mkdir(os.path.dirname(xml))
    run(kiln, 'import', os.path.join(d, 'model.bin'), '-o', xml)
    check('weights written beside the XML as out/model.safetensors', os.path.isfile(os.path.join(tmp, 'out', 'model.safetensors')))
    check('logits of tests/ref/llama2xs (PyTorch)', logits_match(xml, 'llama2xs', tmp, 'bin'))
    same_tensors(os.path.join(tmp, 'out', 'model.safetensors'), os.path.join(d, 'model.safetensors'), 'llama2xs')


def fusion_counts(xml, tmp):
    kir, rep = os.path.join(tmp, 'f.kir'), os.path.join(tmp, 'f.report')
    run(kiln, 'compile', xml, '--emit=ir', '-o', kir, '--fusion-report=' + rep)
    text = open(rep).read()
    counts = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in re.finditer(r'^(\S+): (\d+)/(\d+)$', text, re.M)}
    ir = open(kir).read()
    return counts, ir


def case_stories260k(tmp):
    d = need_shared('stories260K')
    binf = os.path.join(d, 'stories260K.bin')
    dim, hidden, L, heads, kv, vocab, seq = struct.unpack('<7i', open(binf, 'rb').read(28))
    xml = os.path.join(tmp, 'stories260K.xml')
    run(kiln, 'import', binf, '--tokenizer', os.path.join(d, 'tok512.bin'), '-o', xml)
    check('the XML names the tokenizer (kind llama2c)', tokenizer_of(xml) == ('llama2c', 'tok512.bin'))
    p = run(kiln, 'check', xml)
    check('kiln check reads the 512-token tokenizer', '(512 tokens' in p.stdout)
    counts, ir = fusion_counts(xml, tmp)
    check('%d layers (from the header)' % L, L == 5)
    check('attention fused in every layer: %s, want (%d, %d)' % (counts.get('attention'), L, L),
          counts.get('attention') == (L, L))
    check('add+rmsnorm: %s, want (%d, %d) (all but layer 0\'s attention_norm, which reads the embedding)'
          % (counts.get('add+rmsnorm'), 2 * L, 2 * L + 1), counts.get('add+rmsnorm') == (2 * L, 2 * L + 1))
    gated = re.findall(r'^\s*%\S+ = gated_linear .*act="silu"', ir, re.M)
    silu = re.findall(r'^\s*%\S+ = silu ', ir, re.M)
    check('SwiGLU: %d gated_linear act="silu" and %d silu left, want %d and 0' % (len(gated), len(silu), L),
          len(gated) == L and not silu)
    atts = re.findall(r'^\s*%\S+ = attention .*$', ir, re.M)
    check('%d attention nodes in the IR, want %d' % (len(atts), L), len(atts) == L)


def case_untied_bin(tmp):
    binf = os.path.join(here, 'llama-interleaved.bin')
    xml = os.path.join(tmp, 'untied.xml')
    run(kiln, 'import', binf, '--tokenizer', os.path.join(here, 'tok64.bin'), '-o', xml)
    text = open(xml).read()
    check('an untied output matrix (output.weight)', 'tensor="output.weight"' in text)
    check('the XML names the tokenizer (kind llama2c)', tokenizer_of(xml) == ('llama2c', 'tok64.bin'))
    check('eos 1 (run.c stops at BOS)', '<param name="eos" value="1"/>' in text)
    check('logits of tests/ref/llama-interleaved (PyTorch)', logits_match(xml, 'llama-interleaved', tmp, 'untied'))
    same_tensors(os.path.join(tmp, 'untied.safetensors'), os.path.join(ref, 'llama-interleaved', 'weights.safetensors'),
                 'llama-interleaved')
    # the same file read the other way: shared classifier, wcls cut off
    data = open(binf, 'rb').read()
    hdr = list(struct.unpack('<7i', data[:28]))
    dim, vocab = hdr[0], -hdr[5]
    hdr[5] = vocab
    tied_bin = os.path.join(tmp, 'tied.bin')
    open(tied_bin, 'wb').write(struct.pack('<7i', *hdr) + data[28:len(data) - vocab * dim * 4])
    tied_xml = os.path.join(tmp, 'tied.xml')
    run(kiln, 'import', tied_bin, '-o', tied_xml)
    check('read as tied, the logits do not match the reference', not logits_match(tied_xml, 'llama-interleaved', tmp, 'tied'))


def hf_names_of(xml):
    return set(re.findall(r'tensor="([^"]+)"', open(xml).read()))


def byte_level_tokenizer(path):
    """A ByteLevel BPE tokenizer.json (GPT-2 style): the 256 byte tokens, no merges."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    vocab = {chr(c): b for b, c in zip(bs, cs)}
    tok = {'version': '1.0', 'added_tokens': [], 'normalizer': None,
           'pre_tokenizer': {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True},
           'post_processor': None, 'decoder': {'type': 'ByteLevel'},
           'model': {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': '',
                     'end_of_word_suffix': '', 'fuse_unk': False, 'byte_fallback': False, 'vocab': vocab, 'merges': []}}
    json.dump(tok, open(path, 'w', encoding='utf-8'), ensure_ascii=False)


def random_hf_folder(folder, vocab):
    """A tiny random LLaMA (1 layer, width 8, 2 heads, 1 kv head, tied) with vocab tokens."""
    os.mkdir(folder)
    cfg = {'model_type': 'llama', 'hidden_size': 8, 'intermediate_size': 16, 'num_hidden_layers': 1,
           'num_attention_heads': 2, 'num_key_value_heads': 1, 'vocab_size': vocab, 'max_position_embeddings': 16,
           'rms_norm_eps': 1e-6, 'tie_word_embeddings': True}
    json.dump(cfg, open(os.path.join(folder, 'config.json'), 'w'))
    r = random.Random(7)
    shapes = {'model.embed_tokens.weight': [vocab, 8], 'model.norm.weight': [8],
              'model.layers.0.input_layernorm.weight': [8], 'model.layers.0.post_attention_layernorm.weight': [8],
              'model.layers.0.self_attn.q_proj.weight': [8, 8], 'model.layers.0.self_attn.k_proj.weight': [4, 8],
              'model.layers.0.self_attn.v_proj.weight': [4, 8], 'model.layers.0.self_attn.o_proj.weight': [8, 8],
              'model.layers.0.mlp.gate_proj.weight': [16, 8], 'model.layers.0.mlp.up_proj.weight': [16, 8],
              'model.layers.0.mlp.down_proj.weight': [8, 16]}
    ts = []
    for name, shape in shapes.items():
        n = 1
        for s in shape:
            n *= s
        ts.append((name, 'F32', shape, st.from_list('F32', [r.gauss(0, 0.2) for _ in range(n)])))
    st.write(os.path.join(folder, 'model.safetensors'), ts)


def case_hf_llama(tmp):
    fixture = os.path.join(here, 'llama-half-hf')
    xml = os.path.join(tmp, 'hf.xml')
    run(kiln, 'import', fixture, '-o', xml)
    check('logits of tests/ref/llama-half (PyTorch)', logits_match(xml, 'llama-half', tmp, 'hf'))
    check('tokenizer.model is chosen over tokenizer.json (kind sentencepiece)',
          tokenizer_of(xml) == ('sentencepiece', 'tokenizer.model'))
    text = open(xml).read()
    check('eos from eos_token_id (2), bos from bos_token_id (1)',
          '<param name="eos" value="2"/>' in text and '<param name="bos" value="1"/>' in text)
    check('RoPE pairing half (rotate_half)', '<param name="pairing" value="half"/>' in text)

    # sharded: the tensors split over two files named by model.safetensors.index.json
    sharded = os.path.join(tmp, 'sharded')
    os.mkdir(sharded)
    tensors = list(st.read(os.path.join(fixture, 'model.safetensors')).items())
    halves = [tensors[:len(tensors) // 2], tensors[len(tensors) // 2:]]
    wmap = {}
    for k, part in enumerate(halves):
        fname = 'model-%05d-of-00002.safetensors' % (k + 1)
        st.write(os.path.join(sharded, fname), [(n, t[0], t[1], t[2]) for n, t in part])
        wmap.update({n: fname for n, _ in part})
    json.dump({'metadata': {'total_size': 0}, 'weight_map': wmap},
              open(os.path.join(sharded, 'model.safetensors.index.json'), 'w'))
    os.symlink(os.path.join(fixture, 'config.json'), os.path.join(sharded, 'config.json'))
    sxml = os.path.join(tmp, 'sharded.xml')
    run(kiln, 'import', sharded, '-o', sxml)
    check('one <weights> per shard', weights_of(sxml) == ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'])
    check('sharded: logits of tests/ref/llama-half (PyTorch)', logits_match(sxml, 'llama-half', tmp, 'sharded'))
    check('no tokenizer in the folder: none in the XML', tokenizer_of(sxml) is None)

    # --tokenizer overrides what the folder has; kind by extension
    oxml = os.path.join(tmp, 'override.xml')
    run(kiln, 'import', fixture, '--tokenizer', os.path.join(here, 'tok64.bin'), '-o', oxml)
    check('--tokenizer tok64.bin: kind llama2c', tokenizer_of(oxml) == ('llama2c', 'tok64.bin'))

    # a folder with a ByteLevel tokenizer.json alone (Llama 3 style)
    bl = os.path.join(tmp, 'bytelevel')
    random_hf_folder(bl, 256)
    byte_level_tokenizer(os.path.join(bl, 'tokenizer.json'))
    bxml = os.path.join(tmp, 'bytelevel.xml')
    run(kiln, 'import', bl, '-o', bxml)
    check('tokenizer.json alone: kind hf', tokenizer_of(bxml) == ('hf', 'tokenizer.json'))
    check('tied: no lm_head.weight in the XML', 'lm_head.weight' not in hf_names_of(bxml))
    run(kiln, 'check', bxml)


def permute(raw, heads, rows, cols):
    """transformers' convert_llama_weights_to_hf.py permute: within each head, the rows of the
    even components (pair firsts) first, then the odd ones — adjacent pairs become (m, m + hd/2)."""
    hd, row = rows // heads, cols * 4
    out = []
    for h in range(heads):
        for j in (0, 1):
            for m in range(hd // 2):
                r = h * hd + 2 * m + j
                out.append(raw[r * row:(r + 1) * row])
    return b''.join(out)


def case_hf_llama2xs(tmp):
    d = need_shared('llama2xs-tinystories')
    w = st.read(os.path.join(d, 'model.safetensors'))
    dim, heads, kv, hidden, L, vocab, ctx = 64, 8, 4, 192, 5, 512, 256   # tests/ref/llama2xs/README.md
    check('shapes as the README says', w['tok_embeddings.weight'][1] == [vocab, dim] and
          w['layers.0.attention.wk.weight'][1] == [kv * dim // heads, dim])
    folder = os.path.join(tmp, 'llama2xs-hf')
    os.mkdir(folder)
    names = {'tok_embeddings.weight': 'model.embed_tokens.weight', 'norm.weight': 'model.norm.weight'}
    for i in range(L):
        for a, b in [('attention_norm', 'input_layernorm'), ('ffn_norm', 'post_attention_layernorm'),
                     ('attention.wq', 'self_attn.q_proj'), ('attention.wk', 'self_attn.k_proj'),
                     ('attention.wv', 'self_attn.v_proj'), ('attention.wo', 'self_attn.o_proj'),
                     ('feed_forward.w1', 'mlp.gate_proj'), ('feed_forward.w2', 'mlp.down_proj'),
                     ('feed_forward.w3', 'mlp.up_proj')]:
            names['layers.%d.%s.weight' % (i, a)] = 'model.layers.%d.%s.weight' % (i, b)
    out = []
    for n, (dt, shape, raw) in w.items():
        if n.endswith('attention.wq.weight'):
            raw = permute(raw, heads, shape[0], shape[1])
        elif n.endswith('attention.wk.weight'):
            raw = permute(raw, kv, shape[0], shape[1])
        out.append((names[n], dt, shape, raw))
    st.write(os.path.join(folder, 'model.safetensors'), out)
    cfg = {'architectures': ['LlamaForCausalLM'], 'hidden_size': dim, 'intermediate_size': hidden,
           'num_hidden_layers': L, 'num_attention_heads': heads, 'num_key_value_heads': kv, 'vocab_size': vocab,
           'max_position_embeddings': ctx, 'rms_norm_eps': 1e-5, 'tie_word_embeddings': True, 'bos_token_id': 1,
           'eos_token_id': 2}
    json.dump(cfg, open(os.path.join(folder, 'config.json'), 'w'))
    xml = os.path.join(tmp, 'llama2xs-hf.xml')
    run(kiln, 'import', folder, '-o', xml)
    check('tied: no lm_head.weight in the XML', 'lm_head.weight' not in hf_names_of(xml))
    check('logits of tests/ref/llama2xs (PyTorch), through rotate_half on permuted q/k',
          logits_match(xml, 'llama2xs', tmp, 'hf2xs'))


CASES = {'llama2xs-bin': case_llama2xs_bin, 'stories260k': case_stories260k, 'untied-bin': case_untied_bin,
         'hf-llama': case_hf_llama, 'hf-llama2xs': case_hf_llama2xs}
with tempfile.TemporaryDirectory() as tmp:
    CASES[case](tmp)
print('%d failed' % failures if failures else 'PASS')
sys.exit(1 if failures else 0)
