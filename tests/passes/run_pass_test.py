#!/usr/bin/env python3
"""run_pass_test.py KILN CASE.kir — a pass test as data: the input IR, the passes to run
(`# pass: P[,Q]` in its header), and CASE.expected.kir, the IR the passes must leave,
written by hand; and when CASE.expected.report exists, the fusion report it must print.
Runs `kiln compile CASE.kir --passes=P --stop-after=LAST -o OUT` in the
case's folder and compares OUT with the expectation byte for byte."""
import difflib
import os
import re
import subprocess
import sys
import tempfile

kiln, case = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
folder, name = os.path.dirname(case), os.path.basename(case)
passes = re.search(r'^# pass: (\S+)', open(case).read(), re.M).group(1)
expected = open(case[:-len('.kir')] + '.expected.kir').read()
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 'out.kir')
    report_file = case[:-len('.kir')] + '.expected.report'
    report = os.path.join(tmp, 'report')
    p = subprocess.run([kiln, 'compile', name, '--passes=' + passes, '--stop-after=' + passes.split(',')[-1],
                        '-o', out, '--fusion-report=' + report], cwd=folder, capture_output=True, text=True)
    if p.returncode != 0:
        print('FAIL %s: kiln exited %d\n%s' % (name, p.returncode, p.stderr))
        sys.exit(1)
    got = open(out).read()
    # the .kir was printed into the temporary folder, so its weight paths lead from there:
    # write them from the case's folder, as the expectation does
    got = re.sub(r'^weights "(.*)"$', lambda mo: 'weights "%s"' % os.path.relpath(
        os.path.normpath(os.path.join(tmp, mo.group(1))), folder), got, flags=re.M)
    got_report = open(report).read()
if os.path.exists(report_file) and got_report != open(report_file).read():
    print('FAIL %s: the fusion report differs from %s:' % (name, os.path.basename(report_file)))
    sys.stdout.writelines(difflib.unified_diff(open(report_file).read().splitlines(True),
                                               got_report.splitlines(True), 'expected', 'got'))
    sys.exit(1)
if got != expected:
    print('FAIL %s: the IR after %s differs from %s.expected.kir:' % (name, passes, name[:-4]))
    sys.stdout.writelines(difflib.unified_diff(expected.splitlines(True), got.splitlines(True), 'expected', 'got'))
    sys.exit(1)
print('PASS %s (%s)' % (name, passes))
