#!/usr/bin/env python3
"""test_install.py MESON BUILD SOURCE KILN PREFIX BINDIR DATADIR MANDIR "ARCHES" — meson install, then
the installed kiln at work.

`meson install --destdir TMP --no-rebuild` copies the built files to TMP/<prefix> and
leaves the build folder as it is (it only writes meson-logs/install-log.txt), so other
tests may run meanwhile. Then, from a working folder outside the source tree and with
KILN_RUNTIME_DIR unset:
  - the files are in place: kiln, libkiln_rt-<arch>.a for each arch built, model.xsd, the
    docs, the man page (which man, or groff, formats without a warning when installed);
  - `kiln --version` and `kiln compile -v` name the installed runtime (TMP/.../lib/kiln),
    never this build tree, and the executable the installed kiln makes generates the same
    greedy text as the one the build tree's kiln makes, and the ids of
    models/tiny/reference.json (PyTorch);
  - the installed tree still works once moved elsewhere (nothing of the prefix is compiled
    in); KILN_RUNTIME_DIR overrides the installed folder (a wrong one fails with a message
    naming the missing archive); a kiln with no ../lib/kiln beside it falls back to the
    build tree."""
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

meson, build, src, build_kiln, prefix, bindir, datadir, mandir, arches = sys.argv[1:10]
arches = arches.split()
build_kiln = os.path.abspath(build_kiln)      # meson passes it relative to the build folder
build_runtime = os.path.join(build, 'runtime')
model = os.path.join(src, 'models', 'tiny', 'model.xml')
failures = []
env = dict(os.environ)
env.pop('KILN_RUNTIME_DIR', None)
env.pop('DESTDIR', None)


def check(name, cond, detail=''):
    print('%s %s%s' % ('PASS' if cond else 'FAIL', name, (': ' + str(detail)[:600]) if detail and not cond else ''))
    if not cond:
        failures.append(name)


def run(argv, cwd, extra_env=None, timeout=180):
    e = dict(env, **(extra_env or {}))
    p = subprocess.run(argv, cwd=cwd, env=e, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def under(root, d):
    """An install folder (absolute, or relative to the prefix) inside the DESTDIR root."""
    return os.path.join(root, os.path.join(prefix, d).lstrip('/'))


def generate(exe, cwd):
    """Greedy text and generated ids of the tiny model for a fixed prompt."""
    rc, out, err = run([exe, '-p', 'The little dog', '-n', '24', '--show-ids'], cwd)
    ids = [l for l in err.splitlines() if l.startswith('generated ids:')]
    return rc, out, ids, err


with tempfile.TemporaryDirectory() as tmp:
    dest = os.path.join(tmp, 'dest')
    work = os.path.join(tmp, 'work')        # outside the source tree
    os.mkdir(work)
    rc, out, err = run([meson, 'install', '-C', build, '--destdir', dest, '--no-rebuild', '--quiet'], work)
    check('meson install --destdir', rc == 0, out + err)
    if rc != 0:
        sys.exit(1)

    kiln = os.path.join(under(dest, bindir), 'kiln')
    libkiln = os.path.join(under(dest, ''), 'lib', 'kiln')
    check('kiln installed in bindir', os.access(kiln, os.X_OK), kiln)
    for arch in arches:
        a = os.path.join(libkiln, 'libkiln_rt-%s.a' % arch)
        check('runtime for %s installed in lib/kiln' % arch,
              os.path.isfile(a) and filecmp.cmp(a, os.path.join(build_runtime, 'libkiln_rt-%s.a' % arch), shallow=False), a)
    check('only the runtime archives in lib/kiln',
          sorted(os.listdir(libkiln)) == sorted('libkiln_rt-%s.a' % a for a in arches), os.listdir(libkiln))
    xsd = os.path.join(under(dest, datadir), 'kiln', 'model.xsd')
    check('model.xsd installed', os.path.isfile(xsd) and filecmp.cmp(xsd, os.path.join(src, 'frontend', 'model.xsd'), shallow=False), xsd)
    docdir = os.path.join(under(dest, datadir), 'doc', 'kiln')
    for doc in ['README.md', 'cli.md', 'model-format.md', 'backend.md']:
        want = os.path.join(src, doc) if doc == 'README.md' else os.path.join(src, 'docs', doc)
        got = os.path.join(docdir, doc)
        check('doc %s installed' % doc, os.path.isfile(got) and filecmp.cmp(got, want, shallow=False), got)
    man1 = os.path.join(under(dest, mandir), 'man1', 'kiln.1')
    check('man page installed', os.path.isfile(man1) and filecmp.cmp(man1, os.path.join(src, 'docs', 'kiln.1'), shallow=False), man1)

    # The man page: its sections, then formatted by man (or groff) without a warning.
    if os.path.isfile(man1):
        text = open(man1, encoding='utf-8').read()
        check('man page starts with .TH KILN 1', any(l.startswith('.TH KILN 1 ') for l in text.splitlines()))
        for sec in ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'OPTIONS', '"THE PRODUCED EXECUTABLE"',
                    'ENVIRONMENT', 'FILES', '"EXIT STATUS"', 'EXAMPLES', '"SEE ALSO"']:
            check('man page section %s' % sec, ('\n.SH %s\n' % sec) in text)
        if shutil.which('man'):
            rc, out, err = run(['man', '--warnings', '-l', man1], work, {'MANWIDTH': '80', 'MANPAGER': 'cat', 'PAGER': 'cat'})
            check('man -l formats the page without warnings', rc == 0 and not err.strip() and 'kiln - ahead-of-time' in out
                  and 'THE PRODUCED EXECUTABLE' in out, err or out[:300])
        elif shutil.which('groff'):
            rc, out, err = run(['groff', '-man', '-Tutf8', '-ww', '-z', man1], work)
            check('groff formats the page without warnings', rc == 0 and not err.strip(), err)
        else:
            print('SKIP formatting the man page: neither man nor groff is installed')

    # --version: the installed runtime folder and its targets.
    rc, out, err = run([kiln, '--version'], work)
    check('installed kiln --version names its own lib/kiln', rc == 0 and
          ('runtime libraries: %s (installed beside kiln)' % libkiln) in out and build_runtime not in out, out + err)
    # the targets: the architectures of the plain archives (a sanitizer build's extra
    # x86_64-sanitize archive is the same target)
    check('installed kiln --version lists the targets',
          all(a in out.split('targets:')[-1] for a in arches if not a.endswith('-sanitize')), out)
    check('installed kiln --version names LLVM 19', '\nLLVM 19.' in out, out)

    # compile with the installed kiln: -v names the installed archive, not the build tree's
    host = 'x86_64' if 'x86_64' in arches else arches[0]
    rc, out, err = run([kiln, 'compile', model, '-o', 'tiny', '-v'], work)
    archive = os.path.join(libkiln, 'libkiln_rt-%s.a' % host)
    check('installed kiln compiles the tiny model', rc == 0 and os.path.isfile(os.path.join(work, 'tiny')), err)
    check('compile -v names the installed runtime library',
          ('runtime library   %s (installed beside kiln)' % archive) in err and build_runtime not in err, err)

    # the same greedy text as with the build tree's kiln, and PyTorch's ids
    rc, out, err = run([build_kiln, 'compile', model, '-o', 'tiny-build', '-v'], work)
    check('build-tree kiln compile -v names the build tree',
          rc == 0 and ('%s/libkiln_rt-%s.a (the build tree)' % (build_runtime, host)) in err, err)
    r1 = generate(os.path.join(work, 'tiny'), work)
    r2 = generate(os.path.join(work, 'tiny-build'), work)
    check('installed kiln executable runs', r1[0] == 0 and r1[1] and r1[2], r1[3])
    check('same greedy text and ids as the build-tree executable', r1[:3] == r2[:3], '%r vs %r' % (r1[1:3], r2[1:3]))

    # moved elsewhere: still finds its own runtime
    moved = os.path.join(tmp, 'moved')
    os.rename(dest, moved)
    kiln2 = os.path.join(under(moved, bindir), 'kiln')
    lib2 = os.path.join(under(moved, ''), 'lib', 'kiln')
    rc, out, err = run([kiln2, '--version'], work)
    check('moved install: --version names the new lib/kiln',
          rc == 0 and ('runtime libraries: %s (installed beside kiln)' % lib2) in out, out + err)
    rc, out, err = run([kiln2, 'compile', model, '-o', 'tiny-moved', '-v'], work)
    check('moved install: compile links the moved runtime',
          rc == 0 and os.path.join(lib2, 'libkiln_rt-%s.a' % host) in err and build_runtime not in err, err)
    r3 = generate(os.path.join(work, 'tiny-moved'), work)
    check('moved install: same greedy text', r3[:3] == r2[:3], '%r vs %r' % (r3[1:3], r2[1:3]))

    # KILN_RUNTIME_DIR comes first: an empty folder there is an error naming the missing archive
    empty = os.path.join(tmp, 'empty')
    os.mkdir(empty)
    rc, out, err = run([kiln2, '--version'], work, {'KILN_RUNTIME_DIR': empty})
    check('KILN_RUNTIME_DIR overrides the installed folder in --version',
          rc == 0 and ('runtime libraries: %s (from KILN_RUNTIME_DIR)' % empty) in out and 'targets: none' in out, out)
    rc, out, err = run([kiln2, 'compile', model, '-o', 'never'], work, {'KILN_RUNTIME_DIR': empty})
    check('a KILN_RUNTIME_DIR without the runtime: exit 1 naming the archive and the rule',
          rc == 1 and ('%s/libkiln_rt-%s.a' % (empty, host)) in err and 'KILN_RUNTIME_DIR' in err
          and '../lib/kiln' in err and not os.path.exists(os.path.join(work, 'never')), '%d %s' % (rc, err))

    # no ../lib/kiln beside kiln: the build tree's runtime, compiled in
    lone = os.path.join(tmp, 'lone', 'bin')
    os.makedirs(lone)
    shutil.copy2(kiln2, lone)
    rc, out, err = run([os.path.join(lone, 'kiln'), '--version'], work)
    check('without lib/kiln beside it kiln falls back to the build tree',
          rc == 0 and ('runtime libraries: %s (the build tree)' % build_runtime) in out, out)

print('%d failure(s)' % len(failures))
sys.exit(1 if failures else 0)
