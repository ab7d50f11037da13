#!/usr/bin/env python3
"""llama2c_ref.py — golden ids for llama2.c's tokenizer.bin, from a transcription of run.c.

This is our script (committed with kiln), a faithful Python transcription of the tokenizer of
karpathy/llama2.c run.c (2024): build_tokenizer (reading tokenizer.bin), encode (dummy prefix,
UTF-8 character lookup with byte fallback id = byte + 3, then merging the best-scoring pair,
leftmost on ties, strictly greater than best_score = -1e10) and decode (strip a leading space
after BOS, "<0xNN>" pieces to raw bytes). It works on bytes, as run.c's C strings do. Only what
run.c leaves to chance is pinned down: str_lookup's bsearch over a qsort-ed vocabulary returns
any of several equal pieces, so we assert the vocabulary has none (tok512.bin has none).

Usage: llama2c_ref.py TOKENIZER.BIN > llama2c_golden.jsonl
Each line: {"name", "text", "ids" (encode(text, bos=0, eos=0)), "decoded" (the bytes run.c's
generate loop prints for ids after BOS, before safe_printf's filtering, as UTF-8 text with
invalid bytes as U+FFFD — our cases keep it valid)}. kiln's tests/tokenizer/test_llama2c.c
compares with it; this script is run by hand, never by the test suite.
"""
import json
import re
import struct
import sys


def build_tokenizer(path):
    data = open(path, 'rb').read()
    (max_token_length,) = struct.unpack_from('<i', data, 0)
    vocab, scores = [], []
    at = 4
    while at < len(data):       # run.c reads vocab_size records; the file holds exactly those
        score, n = struct.unpack_from('<fi', data, at)
        at += 8
        vocab.append(data[at:at + n])
        scores.append(score)
        at += n
    return vocab, scores, max_token_length


def make_lookup(vocab):
    index = {}
    for i, piece in enumerate(vocab):
        assert piece not in index, 'duplicate piece: run.c would pick either'
        index[piece] = i
    return lambda s: index.get(s, -1)          # str_lookup: strcmp equality, -1 if absent


def c_string(piece):
    # run.c keeps pieces as NUL-terminated strings: strcmp and sprintf("%s") stop at a NUL
    return piece.split(b'\0', 1)[0]


def encode(vocab, scores, text, bos, eos):
    str_lookup = make_lookup([c_string(p) for p in vocab])
    tokens = []
    if bos:
        tokens.append(1)
    if text != b'':                            # add_dummy_prefix, only if text != ""
        tokens.append(str_lookup(b' '))
    i = 0
    str_buffer = b''
    while i < len(text):                       # for (char *c = text; *c != '\0'; c++)
        c = text[i]
        if c == 0:                             # a C string ends at NUL
            break
        if (c & 0xC0) != 0x80:
            str_buffer = b''
        str_buffer += bytes([c])
        nxt = text[i + 1] if i + 1 < len(text) else 0
        if (nxt & 0xC0) == 0x80 and len(str_buffer) < 4:
            i += 1
            continue
        ident = str_lookup(str_buffer)
        if ident != -1:
            tokens.append(ident)
        else:
            for b in str_buffer:               # byte_fallback: the first 3 ids are special
                tokens.append(b + 3)
        str_buffer = b''
        i += 1
    while True:                                # merge the best consecutive pair each iteration
        best_score = struct.unpack('<f', struct.pack('<f', -1e10))[0]
        best_id = best_idx = -1
        for k in range(len(tokens) - 1):
            ident = str_lookup(c_string(vocab[tokens[k]]) + c_string(vocab[tokens[k + 1]]))
            if ident != -1 and scores[ident] > best_score:
                best_score, best_id, best_idx = scores[ident], ident, k
        if best_idx == -1:
            break
        tokens[best_idx] = best_id
        del tokens[best_idx + 1]
    if eos:
        tokens.append(2)
    return tokens


BYTE_PIECE = re.compile(rb'<0x([0-9A-Fa-f]{1,2})')    # sscanf(piece, "<0x%02hhX>", &byte_val)


def decode(vocab, prev_token, token):
    piece = c_string(vocab[token])
    if prev_token == 1 and piece[:1] == b' ':
        piece = piece[1:]
    m = BYTE_PIECE.match(piece)
    if m:
        piece = bytes([int(m.group(1), 16)])
    return piece


CASES = [
    ('empty', ''),
    ('once', 'Once upon a time'),
    ('story', 'Once upon a time, there was a little girl named Lily. She loved to play outside.'),
    ('dialogue', '"Can I have one?" asked Tom. His mom said, "Yes, you can!"'),
    ('lowercase', 'the cat sat on the mat'),
    ('capitals', 'THE END'),
    ('single_letter', 'a'),
    ('single_space', ' '),
    ('spaces_only', '     '),
    ('leading_space', ' hello'),
    ('trailing_space', 'hello '),
    ('multiple_spaces', 'one  two   three    four'),
    ('newline', 'Lily was happy.\nThe end.'),
    ('newlines', '\n\nTwo blank lines\n\n'),
    ('tab', 'a\tb'),
    ('crlf', 'line one\r\nline two'),
    ('digits', 'He had 3 apples and 12 pears, 2024 in all.'),
    ('punctuation', "Wow! What's that? It's a dog... (maybe); yes: no - ok."),
    ('symbols', '@#$%^&*_+=[]{}|\\<>~`'),
    ('accents', 'caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber'),
    ('german', 'Sch\u00f6ne Gr\u00fc\u00dfe aus M\u00fcnchen'),
    ('cjk', '\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8'),
    ('chinese_mixed', 'Tom said \u4f60\u597d to Lily'),
    ('emoji', 'I love cake \U0001F370\U0001F389!'),
    ('cyrillic', '\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440'),
    ('greek', '\u03b1\u03b2\u03b3 \u0394\u03b5\u03bb\u03c4\u03b1'),
    ('trademark', 'Brand\u2122 and hair\u200aspace'),
    ('literal_byte_piece', 'text <0x41> and <s> and </s>'),
    ('long_word', 'supercalifragilisticexpialidocious'),
    ('repeated', 'lalalalalalalalalala'),
    ('controls', 'bell\x07 and escape\x1b'),
    ('long', 'One day, a little boy named Tim went to the park with his mom. He saw a big '
             'red ball and wanted to play with it. Tim kicked the ball very hard, and it flew '
             'over the fence. "Oh no!" said Tim. His mom smiled and said, "Let\'s go get it '
             'together." They found the ball under a tree, and Tim was happy again.'),
]


def main():
    vocab, scores, _ = build_tokenizer(sys.argv[1])
    for name, text in CASES:
        ids = encode(vocab, scores, text.encode('utf-8'), 0, 0)
        out, prev = b'', 1
        for t in ids:
            out += decode(vocab, prev, t)
            prev = t
        print(json.dumps({'name': name, 'text': text, 'ids': ids,
                          'decoded': out.decode('utf-8', errors='replace')},
                         ensure_ascii=False))


if __name__ == '__main__':
    main()
