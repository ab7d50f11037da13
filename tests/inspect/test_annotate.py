#!/usr/bin/env python3
"""test_annotate.py KILN SOURCE — the assembly and LLVM IR name each kernel's node, and -g
maps kernels and forward's calls to the model file's lines (DWARF line table, subprograms,
addr2line, gdb); without -g there is no debug information at all."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
from common import check, finish, kiln_run, model, xml_line

ctx_line = xml_line('name="l{i}.ctx"')          # the matmul probs · v of each layer
lm_line = xml_line('name="lm_head"')

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 'tiny')
    check('compile --emit=exe,asm,llvm -g', kiln_run('compile', model, '-o', out, '--emit=exe,asm,llvm', '-g', '-q').returncode == 0)
    asm = open(out + '.s').read().splitlines() if os.path.exists(out + '.s') else []
    labels = [i for i, l in enumerate(asm) if re.match(r'^"?k\.[^:]*"?:$', l)]
    check('the assembly has kernel labels', len(labels) > 5, len(labels))
    bare = [asm[i] for i in labels if not asm[i - 1].startswith('# kiln: kernel ')]
    check('every kernel label has a comment naming its node', not bare, bare[:3])
    # fuse-attention names the attention node after the p·v matmul it replaced
    want = (r"# kiln: kernel k\.l0\.ctx: node 'l0\.ctx' \(attention, f32\[batch, \d+, seq, \d+\]\) from %s:%d; "
            r"called for \d+ nodes$" % (re.escape(model), ctx_line))
    got = [l for l in asm if l.startswith('# kiln: kernel k.l0.ctx:')]
    check('the comment says node, op, shape, file:line and sharing', len(got) == 1 and re.match(want, got[0]), got or 'none')
    got = [l for l in asm if l.startswith('# kiln: kernel k.lm_head:')]
    check('an unshared kernel: no count', got and got[0].endswith('model.xml:%d' % lm_line), got)
    ll = open(out + '.ll').read() if os.path.exists(out + '.ll') else ''
    check('the LLVM IR carries !kiln.node on kernels',
          re.search(r'^define .*@k\.l0\.ctx\(.*!kiln\.node !\d+ \{$', ll, re.M) is not None and
          ("node 'l0.ctx' (attention" in ll))
    check('the LLVM IR has debug information with -g', 'DICompileUnit' in ll and 'name: "k.l0.ctx"' in ll)

    # DWARF: the line table names model.xml and the nodes' lines
    dump = subprocess.run(['objdump', '--dwarf=decodedline', out], capture_output=True, text=True).stdout
    rows = re.findall(r'^model\.xml\s+(\d+)\s+0x', dump, re.M)
    lines = set(int(r) for r in rows)
    check('the line table has rows for model.xml', len(rows) > 50, len(rows))
    check('the line table has the lines of l{i}.ctx and lm_head', {ctx_line, lm_line} <= lines, sorted(lines))
    node_lines = set(i for i, l in enumerate(open(model), 1) if '<op ' in l)
    # (line 0: code LLVM made that belongs to no line, such as shared epilogues)
    check('every model.xml line in the table is a node or the graph', lines <= node_lines | {0, xml_line('<graph')},
          sorted(lines - node_lines))
    info = subprocess.run(['llvm-dwarfdump-19', '--debug-info', out], capture_output=True, text=True).stdout
    check('a subprogram per kernel at its node line',
          re.search(r'DW_AT_name\s+\("k\.l0\.ctx"\)\s+DW_AT_decl_file\s+\("[^"]*model\.xml"\)\s+DW_AT_decl_line\s+\(%d\)' % ctx_line,
                    info) is not None)
    check('forward is a subprogram too', 'DW_AT_name\t("kiln_forward")' in info or '("kiln_forward")' in info)
    check('the compile unit is the model file, by its real directory',
          re.search(r'DW_AT_name\s+\("model\.xml"\)', info) is not None
          and ('DW_AT_comp_dir\t("%s")' % os.path.dirname(os.path.realpath(model))) in info.replace('  ', '\t'))
    syms = subprocess.run(['nm', out], capture_output=True, text=True).stdout
    addr = re.search(r'^([0-9a-f]+) t k\.lm_head$', syms, re.M)
    where = subprocess.run(['addr2line', '-e', out, addr.group(1)], capture_output=True, text=True).stdout.strip() if addr else ''
    check('addr2line maps a kernel to its node line', where.endswith('model.xml:%d' % lm_line), where)
    if shutil.which('gdb'):
        g = subprocess.run(['gdb', '-batch', '-nx', '-ex', 'info line k.lm_head', out], capture_output=True, text=True)
        check('gdb: info line names the node line', 'Line %d of "model.xml"' % lm_line in g.stdout, g.stdout + g.stderr)
    else:
        print('SKIP gdb: not installed')
    p = subprocess.run([out, '-p', 'And', '-n', '4', '--temperature', '0'], capture_output=True, text=True)
    check('the -g executable runs', p.returncode == 0 and p.stdout.startswith('And'), p.stderr)

    plain = os.path.join(tmp, 'plain')
    check('compile without -g', kiln_run('compile', model, '-o', plain, '-q').returncode == 0)
    sections = subprocess.run(['readelf', '-S', '-W', plain], capture_output=True, text=True).stdout
    if 'libasan' in subprocess.run(['readelf', '-d', plain], capture_output=True, text=True).stdout:
        # a sanitizer build's executables link ASan's start-up object, which has debug
        # information of its own (backend/link.c): none may come from the model or the runtime
        units = subprocess.run(['readelf', '--debug-dump=info', plain], capture_output=True, text=True).stdout
        names = [l for l in units.splitlines() if 'DW_AT_name' in l]
        check('without -g: no debug information from kiln (sanitizer build)',
              not any('model.xml' in l or 'runtime/' in l or '.c' == l.strip()[-2:] for l in names),
              [l for l in names if 'model.xml' in l or 'runtime/' in l][:5])
    else:
        check('without -g: no .debug_ section', '.debug_' not in sections)
    q = subprocess.run([plain, '-p', 'And', '-n', '4', '--temperature', '0'], capture_output=True, text=True)
    check('-g changes nothing the program computes', q.returncode == 0 and q.stdout == p.stdout)

    arm = os.path.join(tmp, 'arm.s')
    check('--target aarch64-linux-gnu --emit=asm', kiln_run('compile', model, '-o', arm, '--emit=asm', '--target',
                                                           'aarch64-linux-gnu', '-q').returncode == 0)
    arm_asm = open(arm).read() if os.path.exists(arm) else ''
    check('AArch64 assembly: the comments start with //',
          re.search(r"^// kiln: kernel k\.lm_head: node 'lm_head' \(\w+, f32\[batch, seq, \d+\]\) from .*model\.xml:%d\n"
                    r"k\.lm_head:" % lm_line, arm_asm, re.M) is not None)

    def text_size(exe):
        m = re.search(r'\.text\s+PROGBITS\s+\S+\s+\S+\s+([0-9a-f]+)',
                      subprocess.run(['readelf', '-S', '-W', exe], capture_output=True, text=True).stdout)
        return int(m.group(1), 16) if m else -1
    check('-g leaves the code as it is (.text size)', text_size(out) == text_size(plain), (text_size(out), text_size(plain)))
finish()
