#!/usr/bin/env python3
"""gen_unicode_tables.py [OUT] — write runtime/unicode_tables.c, the code point range tables
the runtime tokenizers classify text with (default OUT: runtime/unicode_tables.c next to this
script's parent folder).

Uses only Python's unicodedata, so the tables follow the Unicode version of the Python that runs
it; the version is written into the generated file's header. Each table is a sorted list of
disjoint, non-adjacent inclusive ranges [lo, hi], searched by bisection in runtime/unicode.c.

Tables:
  letter   \\p{L}  general category L* (Lu Ll Lt Lm Lo)
  number   \\p{N}  N* (Nd Nl No)
  space    \\s as JavaScript's regex means it (the GPT-2 golden ids were made with JS, u flag):
           Zs plus U+0009-000D, U+2028, U+2029, U+FEFF. Python's re differs: it adds
           U+001C-001F and U+0085 and lacks U+FEFF.
  punct    P* (BERT's _is_punctuation adds the ASCII symbol ranges itself; not here)
  mark_mn  Mn, nonspacing marks (what BERT strips after NFD)
  zs       Zs
  other    C* (Cc Cf Cs Co Cn: control, format, surrogate, private use, unassigned)
  cjk      the CJK ideograph blocks of BERT's _is_chinese_char (a fixed list, not a category)

The fold map (BERT uncased: lower-case, NFD, drop Mn, one character at a time) maps each code
point c that is not Mn to strip_mn(nfd(c.lower())) where that differs from c. Hangul syllables
(U+AC00-D7A3) are left out: their NFD is arithmetic (runtime/unicode.c). Results of one code
point are runs in uni_fold (UniFold: lo..hi map to c + delta, every code point of the run or,
with step 2, every other one from lo; or all to the one code point delta when step is 0;
packed in 8 bytes: key = lo << 11 | (hi - lo) << 2 | step); results of two or three code points are uni_fold_multi (UniFoldMulti, sorted by cp).
"""
import os
import sys
import unicodedata

MAX_CP = 0x10FFFF

JS_SPACE_EXTRA = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x2028, 0x2029, 0xFEFF]

# BERT's tokenization.py, _is_chinese_char, verbatim.
CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
       (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def ranges(pred):
    out = []
    lo = None
    for cp in range(MAX_CP + 2):
        inside = cp <= MAX_CP and pred(cp)
        if inside and lo is None:
            lo = cp
        elif not inside and lo is not None:
            out.append((lo, cp - 1))
            lo = None
    return out


def merge(rs):
    out = []
    for lo, hi in sorted(rs):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def fold_map(cat):
    """{cp: folded string} for the code points the fold changes (see the docstring)."""
    out = {}
    for cp in range(MAX_CP + 1):
        if 0xAC00 <= cp <= 0xD7A3 or cat[cp] == 'Mn':
            continue
        r = ''.join(x for x in unicodedata.normalize('NFD', chr(cp).lower())
                    if unicodedata.category(x) != 'Mn')
        if r != chr(cp):
            out[cp] = r
    return out


def fold_runs(single):
    """Runs (lo, hi, delta, step) covering the sorted {cp: target} pairs of single: a run
    grows while the next pair keeps its delta (step 1 or 2) or its one target (step 0)."""
    runs = []
    for cp, t in sorted(single.items()):
        if runs:
            lo, hi, d, st = runs[-1]
            if lo == hi and cp in (lo + 1, lo + 2) and t - cp == single[lo] - lo:
                runs[-1] = (lo, cp, t - cp, cp - lo)
                continue
            if lo == hi and cp == lo + 1 and t == single[lo]:
                runs[-1] = (lo, cp, t, 0)
                continue
            if lo < hi and st and cp == hi + st and t - cp == d:
                runs[-1] = (lo, cp, d, st)
                continue
            if lo < hi and st == 0 and cp == hi + 1 and t == d:
                runs[-1] = (lo, cp, d, 0)
                continue
        runs.append((cp, cp, t - cp, 1))
    return runs


def check_runs(runs, single):
    got = {}
    for lo, hi, d, st in runs:
        for cp in range(lo, hi + 1):
            if st == 0:
                got[cp] = d
            elif (cp - lo) % st == 0:
                got[cp] = cp + d
    assert got == single, 'fold runs do not reproduce the map'


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, '..', 'runtime', 'unicode_tables.c')
    cat = [unicodedata.category(chr(cp)) for cp in range(MAX_CP + 1)]
    tables = [
        ('letter', 'L*: \\p{L}', ranges(lambda c: cat[c][0] == 'L')),
        ('number', 'N*: \\p{N}', ranges(lambda c: cat[c][0] == 'N')),
        ('space', 'JavaScript \\s: Zs, U+0009-000D, U+2028, U+2029, U+FEFF',
         ranges(lambda c: cat[c] == 'Zs' or c in JS_SPACE_EXTRA)),
        ('punct', 'P*', ranges(lambda c: cat[c][0] == 'P')),
        ('mark_mn', 'Mn', ranges(lambda c: cat[c] == 'Mn')),
        ('zs', 'Zs', ranges(lambda c: cat[c] == 'Zs')),
        ('other', 'C* (Cc Cf Cs Co Cn)', ranges(lambda c: cat[c][0] == 'C')),
        ('cjk', 'CJK ideographs as in BERT _is_chinese_char', merge(CJK)),
    ]
    with open(out_path, 'w') as f:
        f.write('/* unicode_tables.c — GENERATED by scripts/gen_unicode_tables.py; do not edit.\n')
        f.write(' *\n')
        f.write(' * Unicode %s (Python %d.%d unicodedata). Sorted, disjoint inclusive code point\n'
                % (unicodedata.unidata_version, sys.version_info[0], sys.version_info[1]))
        f.write(' * ranges, searched by bisection in unicode.c. See the script for what each table\n')
        f.write(' * means; code points assigned after this Unicode version classify as unassigned. */\n')
        f.write('#include "runtime/unicode_impl.h"\n\n')
        f.write('const char uni_tables_version[] = "%s";\n' % unicodedata.unidata_version)
        for name, doc, rs in tables:
            f.write('\n/* %s: %d ranges */\n' % (doc, len(rs)))
            f.write('const UniRange uni_%s[] = {\n' % name)
            for i in range(0, len(rs), 4):
                f.write('   ' + ''.join(' {0x%04X, 0x%04X},' % r for r in rs[i:i + 4]) + '\n')
            f.write('};\n')
            f.write('const unsigned uni_%s_n = %d;\n' % (name, len(rs)))
        fm = fold_map(cat)
        single = {cp: ord(r) for cp, r in fm.items() if len(r) == 1}
        multi = sorted((cp, r) for cp, r in fm.items() if len(r) > 1)
        runs = fold_runs(single)
        check_runs(runs, single)
        assert all(len(r) <= 3 for _, r in multi)
        f.write('\n/* fold (lower-case, NFD, drop Mn) to one code point: %d runs for %d code points */\n'
                % (len(runs), len(single)))
        f.write('const UniFold uni_fold[] = {\n')
        assert all(hi - lo < 512 and hi <= MAX_CP for lo, hi, _, _ in runs)
        packed = [((lo << 11) | ((hi - lo) << 2) | st, d) for lo, hi, d, st in runs]
        for i in range(0, len(packed), 4):
            f.write('   ' + ''.join(' {0x%08X, %d},' % r for r in packed[i:i + 4]) + '\n')
        f.write('};\n')
        f.write('const unsigned uni_fold_n = %d;\n' % len(runs))
        f.write('\n/* fold to two or three code points: %d */\n' % len(multi))
        f.write('const UniFoldMulti uni_fold_multi[] = {\n')
        for cp, r in multi:
            cps = [ord(x) for x in r] + [0] * (3 - len(r))
            f.write('    {0x%04X, {0x%04X, 0x%04X, 0x%04X}},\n' % (cp, cps[0], cps[1], cps[2]))
        f.write('};\n')
        f.write('const unsigned uni_fold_multi_n = %d;\n' % len(multi))


if __name__ == '__main__':
    main()
