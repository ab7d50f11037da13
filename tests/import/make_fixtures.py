#!/usr/bin/env python3
"""make_fixtures.py — writes the small inputs of the import tests (committed; rerun to
regenerate: `python3 tests/import/make_fixtures.py`). Standard library only, except
tokenizer.model, which needs the sentencepiece module (Debian's /usr/bin/python3 has it);
without it the committed file is kept.

Every fixture is the weights of a tests/ref case, whose expected outputs come from PyTorch
(tests/ref/make_refs.py), rewritten in another format; nothing here is computed by kiln.

- llama-interleaved.bin: tests/ref/llama-interleaved's weights as a llama2.c checkpoint
  (legacy version 0) with an UNSHARED classifier: vocab_size is written as -64 and wcls
  (= output.weight) follows the RoPE tables. That case rotates adjacent pairs, as llama2.c
  does, so importing this file must reproduce tests/ref/llama-interleaved/expected.safetensors.
  The RoPE tables are llama2.c's (model.py precompute_freqs_cis, theta 10000), in float32.
- llama-half-hf/: tests/ref/llama-half's weights (rotate_half RoPE, as Hugging Face's
  LlamaForCausalLM) under Hugging Face's names, with a config.json, so importing the folder
  must reproduce tests/ref/llama-half/expected.safetensors. No permutation of q/k: the case is
  already in rotate_half's convention. Untied: lm_head.weight = output.weight.
  Its tokenizer, 64 pieces to match the vocabulary: tokenizer.model (a SentencePiece BPE model
  trained on a few fixed sentences) and tokenizer.json (the same vocabulary and merges in
  Hugging Face's format, merges derived as transformers' SentencePieceExtractor does).
- tok64.bin: a llama2.c tokenizer.bin with 64 tokens (<unk>, <s>, </s>, letters, ...), for
  --tokenizer on the 64-token models.
- ../fuzz/seeds/import/: seeds of fuzz_import (first byte 1: a llama2.c file, 0: a config.json):
  tiny valid checkpoints (tied, untied), a cut one, and LLaMA configs.
"""
import io
import json
import math
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, '..', 'ref'))
sys.dont_write_bytecode = True
import safetensors_io as st  # noqa: E402

REF = os.path.join(here, '..', 'ref')
L, DIM, HIDDEN, HEADS, KV_HEADS, VOCAB, SEQ = 2, 32, 64, 4, 2, 64, 32
HD = DIM // HEADS

# llama2.c name -> Hugging Face name ({i}: the layer)
HF_NAMES = {
    'tok_embeddings.weight': 'model.embed_tokens.weight',
    'layers.{i}.attention_norm.weight': 'model.layers.{i}.input_layernorm.weight',
    'layers.{i}.attention.wq.weight': 'model.layers.{i}.self_attn.q_proj.weight',
    'layers.{i}.attention.wk.weight': 'model.layers.{i}.self_attn.k_proj.weight',
    'layers.{i}.attention.wv.weight': 'model.layers.{i}.self_attn.v_proj.weight',
    'layers.{i}.attention.wo.weight': 'model.layers.{i}.self_attn.o_proj.weight',
    'layers.{i}.ffn_norm.weight': 'model.layers.{i}.post_attention_layernorm.weight',
    'layers.{i}.feed_forward.w1.weight': 'model.layers.{i}.mlp.gate_proj.weight',
    'layers.{i}.feed_forward.w2.weight': 'model.layers.{i}.mlp.down_proj.weight',
    'layers.{i}.feed_forward.w3.weight': 'model.layers.{i}.mlp.up_proj.weight',
    'norm.weight': 'model.norm.weight',
    'output.weight': 'lm_head.weight',
}


def hf_name(name):
    for k, v in HF_NAMES.items():
        for i in range(L):
            if k.replace('{i}', str(i)) == name:
                return v.replace('{i}', str(i))
    raise KeyError(name)


def llama2c_bin(weights, path):
    """weights (llama2.c names) → a version 0 checkpoint with an unshared classifier."""
    def cat(pattern):
        return b''.join(weights[pattern.replace('{i}', str(i))][2] for i in range(L))
    out = [struct.pack('<7i', DIM, HIDDEN, L, HEADS, KV_HEADS, -VOCAB, SEQ), weights['tok_embeddings.weight'][2]]
    for p in ('attention_norm', 'attention.wq', 'attention.wk', 'attention.wv', 'attention.wo', 'ffn_norm',
              'feed_forward.w1', 'feed_forward.w2', 'feed_forward.w3'):
        out.append(cat('layers.{i}.%s.weight' % p))
    out.append(weights['norm.weight'][2])
    # model.py: freqs = 1 / theta^(arange(0, hd, 2) / hd); cos/sin of outer(t, freqs)
    freqs = [1.0 / 10000.0 ** (2 * m / HD) for m in range(HD // 2)]
    out.append(st.from_list('F32', [math.cos(t * f) for t in range(SEQ) for f in freqs]))
    out.append(st.from_list('F32', [math.sin(t * f) for t in range(SEQ) for f in freqs]))
    out.append(weights['output.weight'][2])
    with open(path, 'wb') as f:
        f.write(b''.join(out))


def tok_bin(pieces, path):
    """llama2.c tokenizer.bin: int32 max_token_length, then per token f32 score, i32 length, bytes."""
    enc = [p.encode('utf-8') for p in pieces]
    out = [struct.pack('<i', max(len(e) for e in enc))]
    for i, e in enumerate(enc):
        out.append(struct.pack('<fi', 0.0 if i < 3 else -float(i), len(e)) + e)
    with open(path, 'wb') as f:
        f.write(b''.join(out))


CORPUS = ['the cat sat on the mat', 'a dog ran in the park', 'one day a big dog saw a cat',
          'once upon a time there was a little girl'] * 20


def sp_model(path):
    """A 64-piece SentencePiece BPE model (deterministic: one thread, identity normalization)."""
    try:
        import sentencepiece as spm
    except ImportError:
        print('note: no sentencepiece module; keeping the committed %s' % path)
        return
    m = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS), model_writer=m, vocab_size=VOCAB, model_type='bpe',
                                   num_threads=1, byte_fallback=False, minloglevel=2,
                                   normalization_rule_name='identity')
    with open(path, 'wb') as f:
        f.write(m.getvalue())


def sp_pieces(path):
    """(piece, score, type) of a SentencePiece model file: fields 1 of ModelProto, read by hand."""
    data = open(path, 'rb').read()

    def varint(b, i):
        v = s = 0
        while True:
            c = b[i]
            i += 1
            v |= (c & 0x7f) << s
            s += 7
            if c < 0x80:
                return v, i

    pieces, i = [], 0
    while i < len(data):
        key, i = varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 2:
            n, i = varint(data, i)
            body, i = data[i:i + n], i + n
            if field == 1:
                p, sc, ty, j = '', 0.0, 1, 0
                while j < len(body):
                    k2, j = varint(body, j)
                    if k2 >> 3 == 1:
                        m, j = varint(body, j)
                        p, j = body[j:j + m].decode('utf-8'), j + m
                    elif k2 >> 3 == 2:
                        sc, j = struct.unpack('<f', body[j:j + 4])[0], j + 4
                    elif k2 >> 3 == 3:
                        ty, j = varint(body, j)
                    else:
                        raise ValueError('unexpected field in SentencePiece')
                pieces.append((p, sc, ty))
        elif wire == 0:
            _, i = varint(data, i)
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            raise ValueError('unexpected wire type %d' % wire)
    return pieces


def hf_tokenizer_json(pieces, path):
    """The SentencePiece vocabulary as Hugging Face's LlamaTokenizerFast writes it: BPE over the
    pieces, merges = every split of a piece into two pieces, ordered by the piece's id then the
    parts' ids (transformers' SentencePieceExtractor)."""
    vocab = {p: i for i, (p, _, _) in enumerate(pieces)}
    merges = []
    for p, i in vocab.items():
        if pieces[i][2] != 1:
            continue
        for k in range(1, len(p)):
            left, right = p[:k], p[k:]
            if left in vocab and right in vocab:
                merges.append((i, vocab[left], vocab[right], left, right))
    merges.sort()
    specials = [{'id': i, 'content': p, 'single_word': False, 'lstrip': False, 'rstrip': False,
                 'normalized': False, 'special': True} for i, (p, _, t) in enumerate(pieces) if t in (2, 3)]
    tok = {
        'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': specials,
        'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'Prepend', 'prepend': '\u2581'},
                                                           {'type': 'Replace', 'pattern': {'String': ' '},
                                                            'content': '\u2581'}]},
        'pre_tokenizer': None,
        'post_processor': {'type': 'TemplateProcessing',
                           'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}},
                                      {'Sequence': {'id': 'A', 'type_id': 0}}],
                           'pair': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                                    {'SpecialToken': {'id': '<s>', 'type_id': 1}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
                           'special_tokens': {'<s>': {'id': '<s>', 'ids': [vocab['<s>']], 'tokens': ['<s>']}}},
        'decoder': {'type': 'Sequence', 'decoders': [{'type': 'Replace', 'pattern': {'String': '\u2581'}, 'content': ' '},
                                                     {'type': 'ByteFallback'}, {'type': 'Fuse'},
                                                     {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None,
                  'end_of_word_suffix': None, 'fuse_unk': True, 'byte_fallback': False, 'ignore_merges': False,
                  'vocab': vocab, 'merges': ['%s %s' % (m[3], m[4]) for m in merges]},
    }
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
        f.write('\n')


def main():
    inter = st.read(os.path.join(REF, 'llama-interleaved', 'weights.safetensors'))
    llama2c_bin(inter, os.path.join(here, 'llama-interleaved.bin'))

    half = st.read(os.path.join(REF, 'llama-half', 'weights.safetensors'))
    folder = os.path.join(here, 'llama-half-hf')
    os.makedirs(folder, exist_ok=True)
    st.write(os.path.join(folder, 'model.safetensors'), [(hf_name(n), t[0], t[1], t[2]) for n, t in half.items()])
    config = {
        'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'hidden_size': DIM, 'intermediate_size': HIDDEN,
        'num_hidden_layers': L, 'num_attention_heads': HEADS, 'num_key_value_heads': KV_HEADS, 'vocab_size': VOCAB,
        'max_position_embeddings': SEQ, 'rms_norm_eps': 1e-05, 'rope_theta': 10000.0, 'rope_scaling': None,
        'tie_word_embeddings': False, 'hidden_act': 'silu', 'attention_bias': False, 'mlp_bias': False,
        'bos_token_id': 1, 'eos_token_id': 2, 'torch_dtype': 'float32',
    }
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    sp_model(os.path.join(folder, 'tokenizer.model'))
    hf_tokenizer_json(sp_pieces(os.path.join(folder, 'tokenizer.model')), os.path.join(folder, 'tokenizer.json'))

    letters = [chr(c) for c in range(ord('a'), ord('z') + 1)]
    pieces = ['<unk>', '\n<s>\n', '\n</s>\n'] + letters + [' ' + c for c in letters] + \
             [' ', '.', ',', '!', '?', "'", '"', 'the', ' the']
    assert len(pieces) == VOCAB
    tok_bin(pieces, os.path.join(here, 'tok64.bin'))
    fuzz_seeds(os.path.join(here, '..', 'fuzz', 'seeds', 'import'))


def tiny_bin(untied, rng):
    """A valid llama2.c checkpoint: dim 4, hidden 4, 1 layer, 2 heads, 1 kv head, vocab 4, seq 2."""
    dim, hidden, layers, heads, kv, vocab, seq = 4, 4, 1, 2, 1, 4, 2
    hd = dim // heads
    n = vocab * dim + layers * (2 * dim + dim * dim * 2 + 2 * kv * hd * dim + 3 * hidden * dim) + dim
    vals = [rng.uniform(-1, 1) for _ in range(n)]
    freqs = [1.0 / 10000.0 ** (2 * m / hd) for m in range(hd // 2)]
    vals += [math.cos(t * f) for t in range(seq) for f in freqs] + [math.sin(t * f) for t in range(seq) for f in freqs]
    if untied:
        vals += [rng.uniform(-1, 1) for _ in range(vocab * dim)]
    return struct.pack('<7i', dim, hidden, layers, heads, kv, -vocab if untied else vocab, seq) + st.from_list('F32', vals)


def fuzz_seeds(folder):
    import random
    rng = random.Random(5)
    os.makedirs(folder, exist_ok=True)
    tied, untied = tiny_bin(False, rng), tiny_bin(True, rng)
    seeds = {'bin-tied': b'\x01' + tied, 'bin-untied': b'\x01' + untied, 'bin-cut': b'\x01' + tied[:100],
             'bin-header': b'\x01' + tied[:28]}
    config = open(os.path.join(here, 'llama-half-hf', 'config.json'), 'rb').read()
    seeds['config-llama-half'] = b'\x00' + config
    seeds['config-head-dim'] = b'\x00' + json.dumps({
        'model_type': 'llama', 'hidden_size': 16, 'intermediate_size': 32, 'num_hidden_layers': 1,
        'num_attention_heads': 2, 'num_key_value_heads': 1, 'head_dim': 12, 'vocab_size': 10,
        'max_position_embeddings': 8, 'rms_norm_eps': 1e-6, 'eos_token_id': [2, 3], 'rope_scaling': None}).encode()
    for name, data in seeds.items():
        with open(os.path.join(folder, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
