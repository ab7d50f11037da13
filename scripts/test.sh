#!/bin/sh
# test.sh — the README's test command (and CI's): install what is missing, then build and run
# every test twice, in a plain build and in an ASan+UBSan build, then a short run of each
# libFuzzer target (clang-19 build). Prints `N passed, N failed, N skipped` last.
#
# Tests that need ../shared/ (real models, golden files) skip with a message when it is
# absent. Heavy checks (long fuzzing, benchmarks) are separate commands: scripts/fuzz.sh.
set -u
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1

status=0
builds=""
run() {     # run DIR CC SUITE SETUP-ARGS...: configure (once), build, test (SUITE: all or one)
    dir=$1
    compiler=$2
    suite=$3
    shift 3
    if [ ! -f "$dir/build.ninja" ]; then
        CC=$compiler meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; status=1; return; }
        rm -f "$dir.setup.log"
    fi
    echo "== $dir: build"
    ninja -C "$dir" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; status=1; return; }
    echo "== $dir: test"
    only=""
    [ "$suite" = all ] || only="--suite $suite"
    meson test -C "$dir" --print-errorlogs --num-processes 2 $only || status=1
    builds="$builds $dir"
}

run build cc all
run build-asan cc all -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
run build-fuzz clang-19 fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

# One summary over every build's test log.
python3 - $builds <<'PY'
import json, sys
counts = {'passed': 0, 'failed': 0, 'skipped': 0}
for d in sys.argv[1:]:
    try:
        lines = open(d + '/meson-logs/testlog.json').read().splitlines()
    except OSError:
        counts['failed'] += 1
        continue
    for line in lines:
        r = json.loads(line).get('result')
        if r in ('OK', 'EXPECTEDFAIL'):
            counts['passed'] += 1
        elif r == 'SKIP':
            counts['skipped'] += 1
        else:
            counts['failed'] += 1
s = '%d passed, %d failed' % (counts['passed'], counts['failed'])
if counts['skipped']:
    s += ', %d skipped' % counts['skipped']
print(s)
PY
[ $status -eq 0 ] || exit 1
