#!/usr/bin/env python3
"""test_dot.py KILN SOURCE — `kiln compile --dot` writes a graph Graphviz accepts, with the
model's nodes, their shapes, and fused kernels marked.

On models/tiny: the whole pipeline's graph has one attention node per layer (4), each
filled and double-bordered, labelled with its type; every edge joins declared nodes; `dot
-Tsvg` renders it (graphviz is installed by scripts/setup.sh; without it that step is
skipped with a message). With --dot-after=dce the graph has no fused node and has the
softmaxes. --dot-after without --dot is a usage error."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

kiln, src = os.path.abspath(sys.argv[1]), sys.argv[2]
model = os.path.join(src, 'models', 'tiny', 'model.xml')
failures = []


def check(cond, what):
    print('%s %s' % ('ok  ' if cond else 'FAIL', what))
    if not cond:
        failures.append(what)


def dot_of(tmp, *extra):
    path = os.path.join(tmp, 'g.dot')
    p = subprocess.run([kiln, 'compile', model, '--emit=ir', '-o', os.path.join(tmp, 'g.kir'), '--dot=' + path] +
                       list(extra), capture_output=True, text=True)
    if p.returncode != 0:
        print('FAIL kiln exited %d\n%s' % (p.returncode, p.stderr))
        sys.exit(1)
    return path, open(path).read()


with tempfile.TemporaryDirectory() as tmp:
    path, text = dot_of(tmp)
    nodes = dict(re.findall(r'^\s*"([^"]+)" \[(.*)\];$', text, re.M))
    edges = re.findall(r'^\s*"([^"]+)" -> "([^"]+)";$', text, re.M)
    fused = [a for a in nodes.values() if 'peripheries=2' in a]
    check(len(fused) > 0 and all('filled' in a for a in fused), 'fused kernels are filled and double-bordered')
    check(sum('\\nattention' in a for a in fused) == 4, 'one attention kernel per layer (4)')
    check(all(re.search(r'\\n(f32|i32|f16|bf16)\[', a) for a in nodes.values() if 'label="output' not in a),
          'every op is labelled with its type')
    check(edges and all(a in nodes and b in nodes for a, b in edges), 'every edge joins declared nodes')
    check(text.count('{') == text.count('}'), 'braces balance')
    check('cluster_forward/l0' in text, 'layer l0 is a cluster')
    if shutil.which('dot'):
        p = subprocess.run(['dot', '-Tsvg', path, '-o', os.path.join(tmp, 'g.svg')], capture_output=True, text=True)
        check(p.returncode == 0 and os.path.getsize(os.path.join(tmp, 'g.svg')) > 0, 'dot -Tsvg renders it ' + p.stderr)
    else:
        print('skipped: dot -Tsvg (graphviz is not installed; scripts/setup.sh installs it)')
    _, early = dot_of(tmp, '--dot-after=dce')
    check('peripheries=2' not in early and '\\nsoftmax' in early, '--dot-after=dce: no fused node, softmaxes present')
    p = subprocess.run([kiln, 'compile', model, '-o', os.path.join(tmp, 'x'), '--dot-after=dce'], capture_output=True,
                       text=True)
    check(p.returncode == 2 and '--dot-after needs --dot' in p.stderr, '--dot-after alone is a usage error')
print('%d failures' % len(failures) if failures else 'PASS')
sys.exit(1 if failures else 0)
