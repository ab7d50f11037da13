#!/usr/bin/env python3
"""test_tiny.py KILN SOURCE — the bundled demo model end to end, against PyTorch.

models/tiny/reference.json was written by scripts/train_demo.py from a plain PyTorch
forward of the saved weights and the script's own GPT-2 BPE encoder (independent of kiln):
prompts with their token ids and greedy continuations, extra tokenizer cases, and the
logits of the first prompt (reference_logits.f32). kiln must reproduce the ids exactly and
the logits within 1e-4 of their largest magnitude — from the XML and from its .kir — and
refuse bad prompts (invalid UTF-8, longer than the context) with a clear message."""
import array
import json
import os
import subprocess
import sys
import tempfile

kiln, src = os.path.abspath(sys.argv[1]), sys.argv[2]
tiny = os.path.join(src, 'models', 'tiny')
model = os.path.join(tiny, 'model.xml')
ref = json.load(open(os.path.join(tiny, 'reference.json')))
failures = []


def kiln_run(*args, ok=True, stdin=None):
    p = subprocess.run([kiln] + list(args), capture_output=True, input=stdin, timeout=120)
    out, err = p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')
    if ok and p.returncode != 0:
        failures.append('kiln %s: exit %d: %s' % (' '.join(args)[:80], p.returncode, err.strip()))
    return p.returncode, out, err


def ids_of(err, label):
    for line in err.splitlines():
        if line.startswith(label + ':'):
            rest = line[len(label) + 1:].strip()
            return [int(x) for x in rest.split(',')] if rest else []
    return None


def check(name, cond, detail=''):
    print('%s %s%s' % ('PASS' if cond else 'FAIL', name, (': ' + detail) if detail and not cond else ''))
    if not cond:
        failures.append(name)


with tempfile.TemporaryDirectory() as tmp:
    kir = os.path.join(tmp, 'tiny.kir')
    kiln_run('compile', model, '--emit=ir', '-o', kir)
    for m in (model, kir):
        tag = os.path.basename(m)
        for case in ref['prompts']:
            n = len(case['new_ids'])
            rc, out, err = kiln_run('run', m, '-p', case['prompt'], '-n', str(n), '--show-ids')
            check('%s: prompt ids of %r' % (tag, case['prompt']), ids_of(err, 'prompt ids') == case['prompt_ids'],
                  '%s vs %s' % (ids_of(err, 'prompt ids'), case['prompt_ids']))
            check('%s: greedy continuation of %r' % (tag, case['prompt']), ids_of(err, 'generated ids') == case['new_ids'],
                  '%s vs %s' % (ids_of(err, 'generated ids'), case['new_ids']))
            check('%s: text of %r' % (tag, case['prompt']), out.rstrip('\n') == case['text'], repr(out[:120]))
        # logits of every position of the first prompt
        lg = ref['logits']
        T, V = lg['shape']
        ids = ref['prompts'][lg['prompt_index']]['ids'][:T]
        out_f32 = os.path.join(tmp, 'logits.f32')
        for prefill in (None, 3):
            extra = ['--prefill', str(prefill)] if prefill else []
            kiln_run('run', m, '--tokens', ','.join(map(str, ids)), '--logits', out_f32, *extra)
            got = array.array('f', open(out_f32, 'rb').read()) if os.path.exists(out_f32) else array.array('f')
            want = array.array('f', open(os.path.join(tiny, lg['file']), 'rb').read())
            ok = len(got) == len(want) == T * V
            diff = max((abs(a - b) for a, b in zip(got, want)), default=float('inf'))
            peak = max(abs(b) for b in want)
            check('%s: logits [%d, %d]%s' % (tag, T, V, ' through the cache' if prefill else ''),
                  ok and diff <= 1e-4 * peak, 'max diff %g, max |logit| %g' % (diff, peak))
    for case in ref['tokenizer_cases']:
        rc, out, err = kiln_run('run', model, '-p', case['text'], '-n', '0', '--show-ids')
        check('tokenizer: %r' % case['text'], ids_of(err, 'prompt ids') == case['ids'],
              '%s vs %s' % (ids_of(err, 'prompt ids'), case['ids']))

    # bad prompts: a clear error, status 1, no crash
    def refused(name, args, words, stdin=None):
        rc, out, err = kiln_run(*args, ok=False, stdin=stdin)
        good = rc == 1 and words in err and 'internal error' not in err and 'Sanitizer' not in err
        check(name, good, 'status %d, stderr %r' % (rc, err.strip()[:200]))
    # '\udcff' is how Python passes the raw byte 0xff in a command-line argument
    refused('invalid UTF-8 prompt', ['run', model, '-p', 'God \udcff said'],
            '-p PROMPT: error: the prompt is not valid UTF-8: byte 4 (0xff)')
    long_prompt = os.path.join(tmp, 'long.txt')
    open(long_prompt, 'w').write('and it came to pass ' * 100)
    refused('prompt longer than the context', ['run', model, '-f', long_prompt, '-n', '1'],
            'long.txt: error: the prompt has 501 tokens, more than the context of 128 positions')
    # as the executable: generation stops when the context is full, and says so
    rc, out, err = kiln_run('run', model, '-p', 'In the beginning', '-n', '200', '--show-ids')
    n_prompt, n_gen = len(ids_of(err, 'prompt ids')), len(ids_of(err, 'generated ids'))
    check('prompt plus -n beyond the context stops at a full context',
          rc == 0 and 'stopped: the context of 128 positions is full' in err and n_prompt + n_gen - 1 == 128, err)
    refused('invalid UTF-8 on standard input', ['run', model, '-f', '-', '-n', '1'], 'not valid UTF-8: byte 1',
            stdin=b'a\xc3(')
    rc, out, err = kiln_run('run', model, '-p', '', '-n', '5', '--show-ids')
    check('empty prompt starts from <|endoftext|>', rc == 0 and ids_of(err, 'prompt ids') == [ref['eos_token_id']], err)

print('%d failures' % len(failures))
sys.exit(1 if failures else 0)
