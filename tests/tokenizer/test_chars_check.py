#!/usr/bin/env python3
"""test_chars_check.py KILN SOURCE_ROOT — `kiln check` on a model with a character tokenizer.

models/seq2seq-numbers/model.xml, copied to a scratch folder with its weights named by absolute
path and the element <tokenizer kind="chars" file="vocab.txt"/> (put in, or kept if the model
already has it): with the model's vocab.txt it must check and show 40 tokens; with one symbol
more than the model's vocabulary, or a vocab.txt with a line of two characters, it must fail
naming the XML element or the file, line and column."""
import os
import re
import subprocess
import sys
import tempfile

kiln, root = sys.argv[1], sys.argv[2]
model_dir = os.path.join(root, 'models', 'seq2seq-numbers')
failures = 0


def expect(name, path, rc_ok, *needles):
    global failures
    p = subprocess.run([kiln, 'check', path], capture_output=True, text=True)
    out = p.stdout + p.stderr
    ok = (p.returncode == 0) == rc_ok and all(n in out for n in needles)
    print('%s: %s' % ('ok' if ok else 'FAIL', name))
    if not ok:
        failures += 1
        print('  exit %d, expected %s and %r; output:\n%s' % (p.returncode, 'success' if rc_ok else 'failure',
                                                               needles, out))


text = open(os.path.join(model_dir, 'model.xml'), encoding='utf-8').read()
weights = os.path.join(model_dir, 'model.safetensors')
assert '<weights file="model.safetensors"/>' in text
text = text.replace('<weights file="model.safetensors"/>', '<weights file="%s"/>' % weights)
text = re.sub(r'<tokenizer [^>]*/>\s*', '', text)
text = text.replace('<weights ', '<tokenizer kind="chars" file="vocab.txt"/>\n  <weights ', 1)
vocab = open(os.path.join(model_dir, 'vocab.txt'), encoding='utf-8').read()

with tempfile.TemporaryDirectory() as tmp:
    model = os.path.join(tmp, 'model.xml')
    with open(model, 'w', encoding='utf-8') as f:
        f.write(text)
    vocab_path = os.path.join(tmp, 'vocab.txt')

    def write_vocab(v):
        with open(vocab_path, 'w', encoding='utf-8') as f:
            f.write(v)

    write_vocab(vocab)
    expect('check', model, True, 'tokenizer   chars: vocab.txt (40 tokens')
    write_vocab(vocab + '<unk>\n')
    expect('a token more than the model', model, False,
           'error: tokenizer vocab.txt has 41 tokens but the model\'s vocabulary is 40')
    write_vocab(vocab.replace('\nq\n', '\nqu\n'))
    expect('two characters', model, False,
           "vocab.txt:31:2: error: 'qu' is 2 characters; a line is one character, <space> or a special token <...>")
    write_vocab('')
    expect('empty file', model, False, 'vocab.txt: error: empty file')

sys.exit(1 if failures else 0)
