#!/usr/bin/env python3
"""make_spm_bpe.py — trains the small SentencePiece BPE model of the tests and its golden ids.

Run by hand (never by the test suite, which only reads what this writes), with the real
SentencePiece library: Debian's python3-sentencepiece and spm_train (0.1.97 when written):

    /usr/bin/python3 tests/tokenizer/make_spm_bpe.py tests/tokenizer

It writes spm_bpe.model (BPE, vocab 400, byte_fallback, a user-defined symbol, and a small
normalization rule table of our own, RULES below, compiled by spm_train into the model's
precompiled charsmap; the library's nmt_nfkc table would make the model 240 KB) trained on the text below (our own words, written for kiln, no one else's), and
spm_bpe_golden.jsonl; and spm_bpe_plain.model, the same text with the other settings (no byte
fallback, no normalization rules, add_dummy_prefix and remove_extra_whitespaces off, vocab 300)
with spm_bpe_plain_golden.jsonl. With a path to another model (--golden MODEL OUT), it only
writes the golden file of that model (spm_unigram_golden.jsonl, of ../shared's
sentencepiece-test/test_model.model). Golden lines: for each case {"name", "text", "ids" (SentencePieceProcessor.encode(text),
no BOS/EOS, no sampling), "pieces", "decoded" (SentencePieceProcessor.decode(ids))}.
"""
import json
import os
import subprocess
import sys
import tempfile

import sentencepiece as spm

TEXT = """\
The kiln stood at the edge of the village, a squat dome of brick that had been fired so
many times its walls rang like a bell when you knocked on them. Every morning the potter
carried wood from the shed, split it into narrow pieces, and stacked it by the mouth of
the kiln. She worked slowly and talked to the fire as if it were an old friend.
Her apprentice, a boy of twelve named Oren, asked her once why she talked to it. "Because
it listens," she said. "Not to the words. To the rhythm. If you hurry, it hurries, and a
hurried fire cracks the pots." Oren did not believe her, but he learned to move slowly.
In winter the village gathered around the kiln in the evenings. The warmth leaked through
the bricks, and children pressed their hands against the curved wall until their palms
were pink. Old men told stories about the floods of forty years ago, about the bridge that
washed away, about the summer when the river turned green and nobody knew why.
The potter made bowls, jugs, plates and cups; tall jars for oil; small jars for salt;
lamps with three spouts; whistles shaped like birds for the children. She marked each
piece with a thumbprint pressed into the clay near its base, so that years later anyone
could turn a bowl over and know whose hands had shaped it.
One spring a trader came with a cart of glazes from the coast: blue like deep water, a
red that darkened to brown in the fire, a white as thin as milk. The potter bought a
little of each and spent weeks testing them on broken shards. Some ran and pooled; some
bubbled; some turned grey. She wrote down every firing: the wood, the weather, the hours,
the colour of the flame at dawn. Oren copied her notes into a second book in case the
first was lost.
By autumn she had found a way to layer the blue over the white so that it looked like ice
on a pond. People walked from three valleys away to buy those bowls. She sold them for the
same price as the plain ones, which made the trader laugh and shake his head.
When the potter grew too old to lift the wood, Oren fed the fire and she sat on a stool
beside him, listening. "Slower," she would say, or "Now," and he learned to hear what she
heard: the low roar that meant the heat was even, the crackle that meant a draught, the
silence that meant the kiln was ready to rest. 1, 2, 3, 10, 20, 100, 2024, 3.14, 50%.
Questions? Answers! Lists: apples; pears; plums. Quotes "like this" and 'like that'.
A café, a naïve idea, a résumé, über alles, piñata, façade, coöperate, Zoë and Chloë.
"""

USER_SYMBOLS = ['<sep>']

# normalization rules: source code points -> replacement code points (hex), spm_train's TSV
RULES = ([('%04X' % (0xFF01 + i), '%04X' % (0x21 + i)) for i in range(94)] +    # fullwidth ASCII
         [('FB01', '66 69'), ('FB02', '66 6C'),                                 # ligatures fi fl
          ('A0', '20'), ('3000', '20'),                                          # spaces
          ('2460', '31'), ('BD', '31 2044 32'),                                  # circled 1, 1/2
          ('41 41 41', '61'),                                                    # a longer key
          ('AD', ''), ('2581', '20')])                                           # removed; U+2581

CASES = [
    ('empty', ''),
    ('simple', 'The potter made bowls.'),
    ('sentence', 'Oren fed the fire and she sat on a stool beside him.'),
    ('unseen_words', 'Quantum xylophones jazz wizardry'),
    ('leading_trailing', '   spaces around   '),
    ('inner_runs', 'many    spaces\tand\ttabs\nand newlines'),
    ('digits', 'In 1987 there were 42 jars and 3.5 lamps.'),
    ('punctuation', 'Wait... what?! (Yes) -- "no" \'maybe\''),
    ('accents', 'café naïve résumé über piñata'),
    ('rare_accents', 'Ångström Øre Łódź ĳ'),
    ('cjk_byte_fallback', '日本語のテキスト'),
    ('emoji_byte_fallback', 'kiln 🔥 fire 🏺'),
    ('mixed_fallback', 'a日b本c'),
    ('user_symbol', 'first<sep>second <sep> third'),
    ('fullwidth_nfkc', 'Ｆｕｌｌ ｗｉｄｔｈ １２３'),
    ('ligature_nfkc', 'ﬁre ﬂow'),
    ('nbsp', 'a\u00a0b\u3000c'),
    ('literal_u2581', 'x \u2581 y\u2581z'),
    ('circled_half', '\u2460 and \u00bd and AAAA and soft\u00adhyphen'),
    ('control_chars', 'bell\x07 tab\t cr\r'),
    ('long', 'When the potter grew too old to lift the wood, Oren fed the fire and she sat on a '
             'stool beside him, listening. "Slower," she would say, or "Now," and he learned.'),
    ('single_char', 'x'),
    ('only_spaces', '     '),
    ('repeated', 'lalalalalalalalalalala'),
    ('bos_eos_text', '<s> and </s> are text'),
    ('unk_text', '<unk> is text too'),
    ('byte_text', '<0x41> is text'),
]


def train(tmp, name, extra):
    corpus = os.path.join(tmp, 'corpus.txt')
    with open(corpus, 'w', encoding='utf-8') as f:
        f.write(TEXT)
    prefix = os.path.join(tmp, name)
    subprocess.run(['spm_train', '--input=' + corpus, '--model_prefix=' + prefix,
                    '--model_type=bpe', '--num_threads=1', '--character_coverage=0.98',
                    '--user_defined_symbols=' + ','.join(USER_SYMBOLS)] + extra,
                   check=True, capture_output=True)
    return open(prefix + '.model', 'rb').read()


def write_golden(model, path):
    sp = spm.SentencePieceProcessor(model_proto=model)
    with open(path, 'w', encoding='utf-8') as f:
        for name, text in CASES:
            ids = sp.encode(text)
            f.write(json.dumps({'name': name, 'text': text, 'ids': ids,
                                'pieces': [sp.id_to_piece(i) for i in ids],
                                'decoded': sp.decode(ids)}, ensure_ascii=False) + '\n')
    print('%s: %d bytes of model, %d pieces' % (path, len(model), sp.get_piece_size()))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == '--golden':
        write_golden(open(sys.argv[2], 'rb').read(), sys.argv[3])
        return
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        rules = os.path.join(tmp, 'rules.tsv')
        with open(rules, 'w', encoding='utf-8') as f:
            for src, dst in RULES:
                f.write(src + '\t' + dst + '\n')
        models = {
            'spm_bpe': train(tmp, 'spm_bpe', ['--vocab_size=400', '--byte_fallback=true',
                                              '--normalization_rule_tsv=' + rules]),
            'spm_bpe_plain': train(tmp, 'spm_bpe_plain', [
                '--vocab_size=300', '--normalization_rule_name=identity',
                '--add_dummy_prefix=false', '--remove_extra_whitespaces=false']),
        }
    for name, model in models.items():
        with open(os.path.join(out, name + '.model'), 'wb') as f:
            f.write(model)
        write_golden(model, os.path.join(out, name + '_golden.jsonl'))


if __name__ == '__main__':
    main()
