#!/usr/bin/env python3
"""test_cli_docs.py KILN SOURCE — the CLI reference cannot fall behind the --help texts.

Every option that `kiln CMD --help` prints, for every command `kiln --help` lists, must
appear in that command's part of docs/kiln.1 (`.SS kiln CMD`) and of docs/cli.md
(`### kiln CMD`); every option a compiled executable's --help prints (the tiny model's),
in THE PRODUCED EXECUTABLE / "## The produced executable", and an encoder's (the BERT test
model's) in THE PRODUCED EXECUTABLE OF AN ENCODER / "## The produced executable of an encoder",
and an encoder-decoder's (models/seq2seq-numbers) in THE PRODUCED EXECUTABLE OF AN
ENCODER-DECODER / "## The produced executable of an encoder-decoder". An option is a word that starts
with - or -- outside any other word (`--top-k`, `-O3`, `--emit` of `--emit=KINDS`); it
appears in the docs as the same whole word (roff's \\- read as -, font changes dropped), so
`-p` is not satisfied by `--top-p`. A new command, or a new option in a --help, fails
here until both documents describe it."""
import os
import re
import subprocess
import sys
import tempfile

kiln, src = os.path.abspath(sys.argv[1]), sys.argv[2]
OPTION = re.compile(r'(?<![\w-])(--?[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)')
# words of --help texts that look like options but are values (a --features example)
NOT_OPTIONS = {'-avx512f'}
failures = []


def check(name, cond, detail=''):
    print('%s %s%s' % ('PASS' if cond else 'FAIL', name, (': ' + str(detail)[:600]) if detail and not cond else ''))
    if not cond:
        failures.append(name)


def options_of(help_text):
    return sorted(set(OPTION.findall(help_text)) - NOT_OPTIONS)


def roff_text(roff):
    """The words of a roff source: comments dropped, \\- as -, font escapes and \\& removed."""
    lines = [l for l in roff.splitlines() if not l.startswith('.\\"')]
    t = '\n'.join(lines).replace('\\-', '-').replace('\\&', '')
    return re.sub(r'\\f[BIRP]|\\\(oq|\\\(cq', ' ', t)


def section(text, start, stop):
    """From the line that is exactly start to the next line matching stop (a regex), or None."""
    lines = text.splitlines()
    if start not in lines:
        return None
    i = lines.index(start) + 1
    j = i
    while j < len(lines) and not re.match(stop, lines[j]):
        j += 1
    return '\n'.join(lines[i:j])


def has_word(text, opt):
    return re.search(r'(?<![\w-])' + re.escape(opt) + r'(?![\w-])', text) is not None


man = roff_text(open(os.path.join(src, 'docs', 'kiln.1'), encoding='utf-8').read())
md = open(os.path.join(src, 'docs', 'cli.md'), encoding='utf-8').read()


def documented(where, opts, man_part, md_part):
    check('docs/kiln.1 has a part for %s' % where, man_part is not None)
    check('docs/cli.md has a part for %s' % where, md_part is not None)
    for opt in opts:
        if man_part is not None:
            check('docs/kiln.1 documents %s %s' % (where, opt), has_word(man_part, opt))
        if md_part is not None:
            check('docs/cli.md documents %s %s' % (where, opt), has_word(md_part, opt))


def run(argv):
    p = subprocess.run(argv, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


# the commands, from kiln --help: lines "  NAME ..." under "commands:"
rc, top, err = run([kiln, '--help'])
check('kiln --help', rc == 0, err)
commands = []
if 'commands:\n' in top:
    for line in top.split('commands:\n', 1)[1].splitlines():
        if not line.strip():
            break
        m = re.match(r'  ([a-z][a-z-]*)(\s|$)', line)
        if m:
            commands.append(m.group(1))
check('kiln --help lists the commands', {'import', 'check', 'run', 'compile', 'diff'} <= set(commands), commands)
for opt in options_of(top):
    check('docs/kiln.1 mentions kiln %s' % opt, has_word(man, opt))
    check('docs/cli.md mentions kiln %s' % opt, has_word(md, opt))
for cmd in commands:
    check('kiln %s documented in both' % cmd, has_word(man, cmd) and ('`kiln %s' % cmd) in md)

for cmd in commands:
    rc, out, err = run([kiln, cmd, '--help'])
    check('kiln %s --help' % cmd, rc == 0 and out.strip(), err)
    opts = options_of(out)
    print('kiln %s: %s' % (cmd, ' '.join(opts)))
    documented('kiln ' + cmd, opts,
               section(man, '.SS kiln ' + cmd, r'\.S[SH] '), section(md, '### kiln ' + cmd, r'##'))

# each kind of produced executable's --help: (what, model, options its --help must list,
# the part of docs/kiln.1, the part of docs/cli.md)
EXECUTABLES = [
    ('the produced executable', 'models/tiny/model.xml', {'-p', '-n', '--temperature'},
     'THE PRODUCED EXECUTABLE', 'The produced executable'),
    ('the produced executable of an encoder', 'tests/tokenizer/bert_wordpiece.xml', {'--fill-mask', '--embed'},
     'THE PRODUCED EXECUTABLE OF AN ENCODER', 'The produced executable of an encoder'),
    ('the produced executable of an encoder-decoder', 'models/seq2seq-numbers/model.xml', {'--translate', '--beam'},
     'THE PRODUCED EXECUTABLE OF AN ENCODER-DECODER', 'The produced executable of an encoder-decoder'),
]
for what, model, must, man_part, md_part in EXECUTABLES:
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, 'exe')
        rc, out, err = run([kiln, 'compile', os.path.join(src, model), '-o', exe])
        check('compile %s for %s' % (model, what), rc == 0, err)
        rc, out, err = run([exe, '--help'])
        check('%s: --help' % what, rc == 0 and out.strip(), err)
        opts = options_of(out)
        print('%s: %s' % (what, ' '.join(opts)))
        check('%s: --help lists %s' % (what, ', '.join(sorted(must))), must <= set(opts), opts)
        documented(what, opts, section(man, '.SH "%s"' % man_part, r'\.SH '), section(md, '## ' + md_part, r'## '))

# the extraction itself: the rules above, on known text
check('option words: --emit of --emit=KINDS, -O3, not x86-64 nor row-major',
      options_of('  --emit=KINDS  -O0 .. -O3 x86-64 row-major (-o FILE)') == ['--emit', '-O0', '-O3', '-o'])
check('a whole word: -p is not found in --top-p', not has_word('--top-p P', '-p') and has_word('-p PROMPT', '-p'))

print('%d failure(s)' % len(failures))
sys.exit(1 if failures else 0)
