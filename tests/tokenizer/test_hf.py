#!/usr/bin/env python3
"""test_hf.py — the tokenizer.json loader against GPT-2's golden ids.

Usage: test_hf.py TEST_SPM_GOLDEN SOURCE_DIR
Converts ../shared/models/gpt2-tokenizer (encoder.json + vocab.bpe) into a tokenizer.json with
gpt2_to_tokenizer_json.py, merges as "A B" strings and as ["A", "B"] pairs, and runs
test_spm_golden on each with the shared golden.jsonl (gpt-3-encoder's ids) and long_cases.jsonl:
the ids must be the GPT-2 test's. Skipped (77) when ../shared is absent.
"""
import os
import subprocess
import sys
import tempfile


def main():
    exe, src = sys.argv[1], sys.argv[2]
    shared = os.environ.get('KILN_SHARED', os.path.join(src, '..', 'shared'))
    gpt2 = os.path.join(shared, 'models', 'gpt2-tokenizer')
    if not os.path.isdir(gpt2):
        print('skipped: %s is absent' % gpt2)
        return 77
    here = os.path.join(src, 'tests', 'tokenizer')
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ['strings', 'pairs']:
            out = os.path.join(tmp, 'tokenizer-%s.json' % variant)
            subprocess.run([sys.executable, os.path.join(here, 'gpt2_to_tokenizer_json.py'), gpt2, out] +
                           (['--pairs'] if variant == 'pairs' else []), check=True)
            for golden in [os.path.join(gpt2, 'golden.jsonl'), os.path.join(here, 'long_cases.jsonl')]:
                r = subprocess.run([exe, 'hf', out, golden], capture_output=True, text=True)
                lines = r.stdout.strip().split('\n')
                print('%s, %s: %s' % (variant, os.path.basename(golden), lines[-2] if len(lines) > 1 else ''))
                if r.returncode != 0:
                    print(r.stdout[-3000:], r.stderr[-2000:])
                    failed += 1
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
