#!/usr/bin/env python3
"""test_runner.py KILN SOURCE — run_docs.py itself: it runs what the marks say and reports
every kind of failure with the doc, the line and the command.

fixtures/good.md uses every mark (test, fails, output, setup, instead, needs, skip with an
unchecked output block after it, an unmarked block, a continued line) and must pass;
fixtures/bad.md has a failing command, a command that should fail but succeeds, an output
that differs and (with --strict) an unmarked block: each must be reported at its line, and
the command that writes a file must have written it in the scratch copy, not in SOURCE."""
import os
import subprocess
import sys

kiln, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
here = os.path.dirname(os.path.abspath(__file__))
failures = []


def docs(*args):
    p = subprocess.run([sys.executable, os.path.join(here, 'run_docs.py'), kiln, src] + list(args),
                       capture_output=True, text=True, timeout=120)
    print('$ run_docs.py %s' % ' '.join(args))
    print(''.join('| ' + l + '\n' for l in (p.stdout + p.stderr).splitlines()))
    return p.returncode, p.stdout


def expect(what, ok):
    print('%s %s' % ('PASS' if ok else 'FAIL', what))
    if not ok:
        failures.append(what)


good = os.path.join(here, 'fixtures', 'good.md')
bad = os.path.join(here, 'fixtures', 'bad.md')
status, out = docs(good)
expect('good.md passes', status == 0)
expect('good.md: 5 blocks run, 3 skipped', '5 blocks run, 3 skipped, 0 failures' in out)
expect('good.md: the skip reason is printed', ':51: not run: shown only' in out)
expect('good.md: the block whose program is missing says so', ':46: skipped: needs no-such-program-kiln-docs' in out)
expect('good.md: instead ran in place of the download', 'instead of the download' in out and 'never-fetched' not in out)
expect('good.md: the unmarked block did not run', 'not marked' not in out)

status, out = docs(bad)
expect('bad.md fails', status == 1)
expect('bad.md: the failing command, at its line', 'FAIL ' + bad + ':6: exit status 1: false' in out)
expect('bad.md: the command that should fail',
       'FAIL ' + bad + ':11: succeeded, but the doc says it fails: build/driver/kiln --version' in out)
expect('bad.md: the output that differs, at its line',
       'FAIL ' + bad + ':20: this line is not in the output of the block at line 15' in out)
expect('bad.md: 3 failures without --strict', '4 blocks run, 0 skipped, 3 failures' in out)
expect('bad.md: the source tree is left alone', not os.path.exists(os.path.join(src, 'README.md.changed')))

status, out = docs('--strict', bad)
expect('bad.md --strict: the unmarked block', ':28: a ```sh block with no <!-- test --> mark' in out)
expect('bad.md --strict: 4 failures', status == 1 and '4 failures' in out)

status, out = docs('--strict', good)
expect('good.md --strict: skip and the unmarked block refused', status == 1 and ':51: <!-- test: skip --> is not allowed' in out
       and ':55: a ```sh block with no' in out)
print('FAIL' if failures else 'PASS')
sys.exit(1 if failures else 0)
