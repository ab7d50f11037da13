#!/usr/bin/env python3
"""test_fold.py DUMP_FOLD — the runtime's fold map (runtime/unicode.c uni_fold_cp) against
Python: for every code point c, strip_mn(nfd(c.lower())), what BERT's uncased tokenizer does
to each character. Skipped (77) when this Python's Unicode version is not the tables' one."""
import subprocess
import sys
import unicodedata

out = subprocess.run([sys.argv[1]], capture_output=True, text=True, check=True).stdout.split('\n')
version = out[0]
if version != unicodedata.unidata_version:
    print('SKIP: the tables are Unicode %s, this Python has %s' % (version, unicodedata.unidata_version))
    sys.exit(77)
got = {}
for line in out[1:]:
    if line:
        f = line.split()
        got[int(f[0], 16)] = ''.join(chr(int(x, 16)) for x in f[1:])
want = {}
for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF:
        continue
    r = ''.join(x for x in unicodedata.normalize('NFD', chr(cp).lower()) if unicodedata.category(x) != 'Mn')
    if r != chr(cp):
        want[cp] = r
bad = [cp for cp in set(got) | set(want) if got.get(cp) != want.get(cp)]
for cp in sorted(bad)[:20]:
    print('FAIL U+%04X: runtime %r, Python %r' % (cp, got.get(cp), want.get(cp)))
print('%d code points folded, %d differ' % (len(want), len(bad)))
sys.exit(1 if bad else 0)
