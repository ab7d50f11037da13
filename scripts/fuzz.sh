#!/bin/sh
# fuzz.sh [SECONDS] [TARGET...] — runs libFuzzer targets for SECONDS each (default 600), two
# at a time, in the clang-19 ASan+UBSan fuzz build (build-fuzz). TARGET is a name below
# (default: all). Each keeps a growing corpus in build-fuzz/fuzz-corpus/TARGET (seeded from
# tests/fuzz/seeds/TARGET); crashes are left in build-fuzz/fuzz-artifacts/TARGET/, and the
# last lines of each log (executions, cov:, ft:) in build-fuzz/fuzz-logs/TARGET.log.
# KILN_FUZZ_BUILD names another build folder than build-fuzz.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-600}
b=${KILN_FUZZ_BUILD:-build-fuzz}
[ $# -gt 0 ] && shift
targets=${*:-"model safetensors tokenizer spm wordpiece import encode config"}
./scripts/setup.sh
[ -f $b/build.ninja ] ||
    CC=clang-19 meson setup $b -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
ninja -C $b
mkdir -p $b/fuzz-logs
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=abort_on_error=1
export KILN_SOURCE="$PWD"

run() {
    t=$1
    exe=$(find "$b/tests" -name "fuzz_$t" -type f | head -1)
    [ -n "$exe" ] || { echo "no fuzz_$t in $b"; return 1; }
    mkdir -p "$b/fuzz-corpus/$t" "$b/fuzz-artifacts/$t"
    rc=0
    "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$b/fuzz-artifacts/$t/" "$b/fuzz-corpus/$t" "tests/fuzz/seeds/$t" \
        >"$b/fuzz-logs/$t.log" 2>&1 || rc=$?
    echo "== fuzz_$t ($seconds s): exit $rc"
    grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)|stat::number_of_executed_units|ERROR|broken promise' "$b/fuzz-logs/$t.log" | tail -4 || true
    return $rc
}

# two at a time: the machine has two cores
status=0
set -- $targets
while [ $# -gt 0 ]; do
    a=$1; shift
    if [ $# -gt 0 ]; then
        c=$1; shift
        run "$a" & pa=$!
        run "$c" || status=1
        wait $pa || status=1
    else
        run "$a" || status=1
    fi
done
exit $status
