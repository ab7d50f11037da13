#!/usr/bin/env python3
"""run_docs.py KILN SOURCE [--strict] [--not DOC]... DOC... — runs the shell blocks of the
docs that are marked as runnable, as a reader would type them at the repository root.

The convention (docs/tutorial.md is written with it): an HTML comment on the line just before a
```sh fence, invisible once rendered, says what to do with the block. Several comments may
stand one above the other.

    <!-- test -->                   run every command; each must exit 0
    <!-- test: fails -->            each command must fail cleanly: status 1 to 125, no crash
    <!-- test: needs X Y -->        run it, but skip it (with a message) unless every X exists:
                                    a path (it contains '/') or a program on PATH
    <!-- test: setup CMD -->        run it after the shell command CMD (files it expects)
    <!-- test: instead CMD -->      run CMD in place of the block (a download, an install)
    <!-- test: skip REASON -->      do not run it; REASON is printed

A block that mentions ../shared needs ../shared. A ``` or ```text block after a run block,
marked `<!-- test: output -->`, is checked against what that block printed (standard output
and error together): each of its lines but `...` must appear in it, in order.

A command is a line of the block (a line ending in '\\' continues on the next); lines that
are empty or start with '#' are not commands. Each runs with `bash -o pipefail -c` in a scratch
copy of the repository (SOURCE without .git and build folders) whose build/driver/kiln and
PATH's `kiln` are KILN, build/runtime the runtime libraries beside it, and with ../shared
beside it when $KILN_SHARED exists. The blocks of one doc run in order in one copy, so a later
block uses what an earlier one made (the tutorial compiles its executable once); each doc
gets a fresh copy. A DOC with '*' is a pattern (docs/*.md), less the docs named by --not.
With --strict every ```sh block must be marked, and not skip: the tutorial and the
troubleshooting page run all their commands.

A failure names the doc, the line and the command, with the end of its output. The exit status
is 1 if anything failed, else 0 (77 when every marked block was skipped)."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SHELL_INFOS = ('sh', 'bash', 'shell', 'console')
TIMEOUT = 120      # seconds per command
CRASH = ('internal error', 'Sanitizer', 'runtime error:')


class Block:
    def __init__(self, doc, line, info, text, marks):
        self.doc, self.line, self.info, self.text, self.marks = doc, line, info, text, marks
        self.output = ''

    def mark(self, word):
        """The arguments of every `test: WORD ...` comment (a list of strings)."""
        return [m[len(word):].strip() for m in self.marks if m == word or m.startswith(word + ' ')]

    def commands(self):
        """(line number, command) of each command of the block."""
        out, pending, start = [], '', 0
        for i, raw in enumerate(self.text.split('\n')):
            line = raw.rstrip()
            if not pending:
                start = self.line + 1 + i
            if line.endswith('\\'):
                pending += line[:-1] + ' '
                continue
            cmd = (pending + line).strip()
            pending = ''
            if cmd and not cmd.startswith('#'):
                out.append((start, cmd))
        return out


def parse(doc, text):
    """Fenced blocks of a markdown file, each with the test comments just above its fence."""
    blocks, lines, i = [], text.split('\n'), 0
    while i < len(lines):
        m = re.match(r'^(\s*)(```+)\s*([\w-]*)', lines[i])
        if not m:
            i += 1
            continue
        marks, j = [], i - 1
        while j >= 0 and re.match(r'^\s*<!--\s*test\b.*-->\s*$', lines[j]):
            body = re.match(r'^\s*<!--\s*test:?\s*(.*?)\s*-->', lines[j]).group(1)
            marks.insert(0, body if body else 'run')
            j -= 1
        fence, body, k = m.group(2), [], i + 1
        while k < len(lines) and not lines[k].strip().startswith(fence):
            body.append(lines[k][len(m.group(1)):])
            k += 1
        blocks.append(Block(doc, i + 1, m.group(3), '\n'.join(body), marks))
        i = k + 1
    return blocks


def make_scratch(kiln, src, tmp):
    """TMP/kiln: the repository as a reader has it after building; TMP/shared: ../shared."""
    root = os.path.join(tmp, 'kiln')
    top = os.path.abspath(src)

    def ignore(folder, names):
        skip = {'.git', '__pycache__'}
        if os.path.abspath(folder) == top:
            skip |= {n for n in names if n.startswith('build')}
        return [n for n in names if n in skip]
    shutil.copytree(src, root, symlinks=True, ignore=ignore)
    os.makedirs(os.path.join(root, 'build', 'driver'))
    os.symlink(kiln, os.path.join(root, 'build', 'driver', 'kiln'))
    runtime = os.path.join(os.path.dirname(os.path.dirname(kiln)), 'runtime')
    if os.path.isdir(runtime):      # the runtime libraries `kiln compile` links with
        os.symlink(runtime, os.path.join(root, 'build', 'runtime'))
    bindir = os.path.join(tmp, 'bin')
    os.mkdir(bindir)
    os.symlink(kiln, os.path.join(bindir, 'kiln'))
    shared = os.environ.get('KILN_SHARED', '')
    if shared and os.path.isdir(shared):
        os.symlink(os.path.abspath(shared), os.path.join(tmp, 'shared'))
    return root, bindir


def missing(block, root):
    """What the block needs that this machine lacks (a list; empty when it can run)."""
    needs = ' '.join(block.mark('needs')).split()
    if '../shared' in block.text or any('../shared' in c for c in block.mark('instead') + block.mark('setup')):
        needs.append('../shared')
    return [n for n in needs if not (os.path.exists(os.path.join(root, n)) if '/' in n else shutil.which(n))]


def run_command(cmd, root, env):
    """Runs one command; returns (status, output). Status None: it timed out."""
    try:
        p = subprocess.run(['bash', '-o', 'pipefail', '-c', cmd], cwd=root, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, '(no end after %d s)' % TIMEOUT
    return p.returncode, p.stdout.decode('utf-8', 'replace')


def tail(text, n=15):
    lines = text.rstrip('\n').split('\n')
    return '\n'.join(('    ' + l) for l in (lines[-n:] if len(lines) > n else lines))


def check_output(block, ran):
    """The lines of an output block must appear, in order, in what the run block printed."""
    pos = 0
    for i, want in enumerate(block.text.split('\n')):
        want = want.rstrip()
        if not want.strip() or want.strip() == '...':
            continue
        at = ran.output.find(want, pos)
        if at < 0:
            return '%s:%d: this line is not in the output of the block at line %d:\n    %s\nwhich printed:\n%s' % (
                block.doc, block.line + 1 + i, ran.line, want, tail(ran.output, 30))
        pos = at + len(want)
    return None


def run_doc(path, name, root, env, strict):
    """Runs one doc's blocks; returns (failures, blocks run, blocks skipped)."""
    failures, ran_count, skipped = [], 0, 0
    last = None
    for b in parse(name, open(path, encoding='utf-8').read()):
        if 'output' in b.marks:
            if last is None:
                failures.append('%s:%d: an output block with no run block before it' % (name, b.line))
            elif last.output is not None:
                err = check_output(b, last)
                if err:
                    failures.append(err)
            continue
        if b.info not in SHELL_INFOS or not b.marks:
            if strict and b.info in SHELL_INFOS:
                failures.append('%s:%d: a ```%s block with no <!-- test --> mark: every command here must run'
                                % (name, b.line, b.info))
            continue
        last = b
        if b.mark('skip'):
            print('%s:%d: not run: %s' % (name, b.line, ' '.join(b.mark('skip'))))
            b.output = None     # nor is the output block after it checked
            if strict:
                failures.append('%s:%d: <!-- test: skip --> is not allowed here: every command must run' % (name, b.line))
            skipped += 1
            continue
        lack = missing(b, root)
        if lack:
            print('%s:%d: skipped: needs %s, which is absent' % (name, b.line, ', '.join(lack)))
            b.output = None
            skipped += 1
            continue
        ran_count += 1
        steps = [(b.line, c, 'setup') for c in b.mark('setup')]
        if b.mark('instead'):
            steps += [(b.line, c, 'instead') for c in b.mark('instead')]
        else:
            steps += [(line, c, 'fails' if 'fails' in b.marks else 'run') for line, c in b.commands()]
        for line, cmd, how in steps:
            start = time.monotonic()
            status, out = run_command(cmd, root, env)
            print('%s:%d: $ %s%s   [%.1f s]' % (name, line, cmd, '   (in place of the block)' if how == 'instead' else '',
                                               time.monotonic() - start))
            b.output += out
            sys.stdout.write(tail(out, 8) + '\n' if out.strip() else '')
            if status is None:
                problem = 'did not finish in %d s' % TIMEOUT
            elif any(c in out for c in CRASH):
                problem = 'crashed (exit status %d)' % status
            elif how == 'fails':
                problem = None if 1 <= status <= 125 else (
                    'succeeded, but the doc says it fails' if status == 0 else 'exit status %d, not an error' % status)
            else:
                problem = None if status == 0 else 'exit status %d' % status
            if problem:
                failures.append('%s:%d: %s: %s%s' % (name, line, problem, cmd, '\n' + tail(out) if out.strip() else ''))
    return failures, ran_count, skipped


def main():
    args, strict, excluded = [], False, set()
    argv = iter(sys.argv[1:])
    for a in argv:
        if a == '--strict':
            strict = True
        elif a == '--not':
            excluded.add(next(argv, ''))
        else:
            args.append(a)
    if len(args) < 3:
        print(__doc__)
        return 2
    kiln, src = os.path.abspath(args[0]), os.path.abspath(args[1])
    docs = []
    for d in args[2:]:      # a pattern (docs/*.md) takes the docs there are, sorted
        found = sorted(os.path.relpath(p, src) for p in glob.glob(os.path.join(src, d))) if '*' in d else [d]
        docs += [f for f in found if f not in excluded and f not in docs]
    failures, ran_count, skipped = [], 0, 0
    for doc in docs:
        path = doc if os.path.isabs(doc) else os.path.join(src, doc)
        blocks = parse(doc, open(path, encoding='utf-8').read())
        unmarked = [str(b.line) for b in blocks if b.info in SHELL_INFOS and not b.marks]
        if unmarked and not strict:
            print('%s: not run, no <!-- test --> mark: the shell blocks at line %s' % (doc, ', '.join(unmarked)))
        if not any(b.marks for b in blocks) and not strict:
            continue
        with tempfile.TemporaryDirectory(prefix='kiln-docs-') as tmp:
            root, bindir = make_scratch(kiln, src, tmp)
            env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get('PATH', ''))
            f, r, s = run_doc(path, doc, root, env, strict)
        failures += f
        ran_count += r
        skipped += s
    print()
    for f in failures:
        print('FAIL ' + f)
    print('%d blocks run, %d skipped, %d failures' % (ran_count, skipped, len(failures)))
    if failures:
        return 1
    return 77 if ran_count == 0 and skipped > 0 else 0


if __name__ == '__main__':
    sys.exit(main())
