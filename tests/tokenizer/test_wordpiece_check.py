#!/usr/bin/env python3
"""test_wordpiece_check.py KILN SOURCE_ROOT — `kiln check` on models with a WordPiece tokenizer.

bert_wordpiece.xml (tests/ref/bert's encoder with a 50-token vocab.txt) must check and show its
tokenizer; variants written to a scratch folder: lowercase="0" (a cased vocabulary, kind
wordpiece_cased in the IR), a bad lowercase value, lowercase on another kind, a vocab.txt with
a duplicate token and one without [UNK]: each error names the file and line, and exits non-zero."""
import os
import subprocess
import sys
import tempfile

kiln, root = sys.argv[1], sys.argv[2]
here = os.path.join(root, 'tests', 'tokenizer')
model = os.path.join(here, 'bert_wordpiece.xml')
failures = 0


def check(path):
    p = subprocess.run([kiln, 'check', path], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def expect(name, path, rc_ok, *needles):
    global failures
    rc, out = check(path)
    ok = (rc == 0) == rc_ok and all(n in out for n in needles)
    print('%s: %s' % ('ok' if ok else 'FAIL', name))
    if not ok:
        failures += 1
        print('  exit %d, expected %s and %r; output:\n%s' % (rc, 'success' if rc_ok else 'failure', needles, out))


expect('check', model, True, 'tokenizer   wordpiece: wordpiece_vocab50.txt (50 tokens')

text = open(model, encoding='utf-8').read()
weights = os.path.join(root, 'tests', 'ref', 'bert', 'weights.safetensors')
vocab = os.path.join(here, 'wordpiece_vocab50.txt')
text = text.replace('../ref/bert/weights.safetensors', weights)
with tempfile.TemporaryDirectory() as tmp:
    def variant(name, tok, vocab_text=None):
        if vocab_text is not None:
            with open(os.path.join(tmp, 'vocab.txt'), 'w', encoding='utf-8') as f:
                f.write(vocab_text)
        path = os.path.join(tmp, name + '.xml')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text.replace('<tokenizer kind="wordpiece" file="wordpiece_vocab50.txt"/>', tok))
        return path

    expect('cased', variant('cased', '<tokenizer kind="wordpiece" file="%s" lowercase="0"/>' % vocab), True,
           'tokenizer   wordpiece_cased: %s (50 tokens' % vocab)
    expect('lowercase=1', variant('lower1', '<tokenizer kind="wordpiece" file="%s" lowercase="1"/>' % vocab), True,
           'tokenizer   wordpiece: ')
    expect('lowercase=yes', variant('bad', '<tokenizer kind="wordpiece" file="%s" lowercase="yes"/>' % vocab), False,
           "bad.xml:", "lowercase is 'yes'; expected 1 (BERT uncased, the default) or 0")
    expect('lowercase on hf', variant('hf', '<tokenizer kind="hf" file="t.json" lowercase="1"/>'), False,
           'the attribute lowercase is for tokenizer kind wordpiece only')
    expect('duplicate token', variant('dup', '<tokenizer kind="wordpiece" file="vocab.txt"/>', '[UNK]\nab\ncd\nab\n'),
           False, 'vocab.txt:4:1: error: duplicate token \'ab\' (first on line 2)')
    expect('no [UNK]', variant('nounk', '<tokenizer kind="wordpiece" file="vocab.txt"/>', '[PAD]\nab\n'),
           False, 'vocab.txt: error: no [UNK] token')
    expect('missing vocab', variant('missing', '<tokenizer kind="wordpiece" file="nowhere.txt"/>'),
           False, 'nowhere.txt')

sys.exit(1 if failures else 0)
