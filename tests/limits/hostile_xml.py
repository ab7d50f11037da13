#!/usr/bin/env python3
"""hostile_xml.py KILN — model files too large or too deep to commit, written here and given
to `kiln check`: each must be refused (status 1, the message below) or accepted (status 0)
within a time bound, and nothing may crash (no signal, no internal error, no sanitizer
report). The small members of each class are cases in tests/bad (limit-*)."""
import os
import subprocess
import sys
import tempfile
import time

kiln = os.path.abspath(sys.argv[1])
HEAD = '<?xml version="1.0"?>\n<model name="t">\n<dim name="batch" max="1"/>\n'
TAIL_GRAPH = '<graph><input name="x" dtype="f32" shape="batch, 4"/><output name="out" from="x"/></graph></model>\n'

CASES = [
    # (name, text, expected status, text expected in stderr, seconds allowed)
    ('deep', HEAD + '<graph>' * 100000 + '</graph>' * 100000 + '</model>\n', 1,
     "Excessive depth in document: 256 (a limit of kiln's XML reader)", 30),
    ('deep-unclosed', HEAD + '<graph>' * 100000, 1, 'Excessive depth in document', 30),
    ('long-attribute', HEAD + '<param name="p" value="' + 'x' * 20000000 + '"/>' + TAIL_GRAPH, 1,
     'AttValue length too long', 30),
    ('long-text', HEAD + '<graph>' + 'x' * 20000000 + '</graph></model>\n', 1, 'error:', 30),
    ('long-name', HEAD + '<' + 'g' * 20000000 + '/></model>\n', 1, 'error:', 30),
    ('many-namespaces', HEAD + '<graph ' + ' '.join('xmlns:n%d="u%d"' % (i, i) for i in range(100000)) + '/></model>\n',
     1, 'error:', 30),
    ('laughs-in-attribute', '<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY a "' + 'a' * 100000 + '">]>\n<model name="'
     + '&a;' * 100000 + '"/>\n', 1, 'may not have a <!DOCTYPE>', 30),
    ('many-params', HEAD + ''.join('<param name="p%d" value="%d"/>\n' % (i, i) for i in range(200000)) + TAIL_GRAPH,
     0, '', 60),
    ('long-chain', HEAD + '<graph><input name="x0" dtype="f32" shape="batch, 4"/>\n'
     + ''.join('<op kind="add" name="x%d" in="x%d, x%d"/>\n' % (i + 1, i, i) for i in range(100000))
     + '<output name="out" from="x100000"/></graph></model>\n', 0, '', 60),
]

failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for name, text, want_rc, want_err, seconds in CASES:
        path = os.path.join(tmp, name + '.xml')
        with open(path, 'w') as f:
            f.write(text)
        t0 = time.monotonic()
        try:
            p = subprocess.run([kiln, 'check', path], capture_output=True, timeout=seconds * 4,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            print('%s: FAIL: kiln hung' % name)
            failed += 1
            continue
        took = time.monotonic() - t0
        err = p.stderr.decode('utf-8', 'replace')
        bad = []
        if p.returncode < 0:
            bad.append('killed by signal %d' % -p.returncode)
        elif p.returncode != want_rc:
            bad.append('exit status %d, expected %d' % (p.returncode, want_rc))
        if 'internal error' in err or 'Sanitizer' in err or 'runtime error:' in err:
            bad.append('crash or sanitizer report')
        if want_err not in err:
            bad.append('missing in stderr: ' + want_err)
        if took > seconds:
            bad.append('took %.1f s, more than %d' % (took, seconds))
        first = err.splitlines()[0][:160] if err else '(nothing on stderr)'
        print('%s: %s (%d bytes, %.2f s): %s' % (name, 'FAIL: ' + '; '.join(bad) if bad else 'PASS',
                                                 len(text), took, first))
        failed += bool(bad)
sys.exit(1 if failed else 0)
