#!/usr/bin/env python3
"""gpt2_to_tokenizer_json.py — GPT-2's encoder.json + vocab.bpe as a Hugging Face tokenizer.json.

Usage: gpt2_to_tokenizer_json.py DIR OUT.json [--pairs]

Writes what the `tokenizers` library saves for GPT-2 (model BPE, ByteLevel pre-tokenizer and
decoder, no normalizer, <|endoftext|> as an added token): model.vocab is encoder.json unchanged,
model.merges the lines of vocab.bpe after "#version", as "A B" strings or, with --pairs, as
["A", "B"] pairs (the format of tokenizers >= 0.20). Only the standard library is used, so the
test suite can run it (tests/tokenizer/test_hf.py).
"""
import json
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    pairs = '--pairs' in sys.argv[3:]
    vocab = json.load(open(src + '/encoder.json', encoding='utf-8'))
    merges = []
    for line in open(src + '/vocab.bpe', encoding='utf-8').read().split('\n'):
        if not line or line.startswith('#version'):
            continue
        a, b = line.split(' ')
        merges.append([a, b] if pairs else a + ' ' + b)
    eot = vocab['<|endoftext|>']
    tok = {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': [{'id': eot, 'content': '<|endoftext|>', 'single_word': False,
                          'lstrip': False, 'rstrip': False, 'normalized': True, 'special': True}],
        'normalizer': None,
        'pre_tokenizer': {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True,
                          'use_regex': True},
        'post_processor': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': False,
                           'use_regex': True},
        'decoder': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': True,
                    'use_regex': True},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': None,
                  'continuing_subword_prefix': '', 'end_of_word_suffix': '',
                  'fuse_unk': False, 'byte_fallback': False, 'vocab': vocab, 'merges': merges},
    }
    with open(out, 'w', encoding='utf-8') as f:
        json.dump(tok, f, ensure_ascii=False)


if __name__ == '__main__':
    main()
