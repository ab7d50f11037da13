#!/bin/sh
# smoke.sh FUZZER SECONDS SEED_DIR... — a short libFuzzer run for the test suite. New corpus
# entries go to a scratch directory, never into the seeds. scripts/fuzz.sh runs them long.
set -u
fuzzer=$1
seconds=$2
shift 2
work=$(mktemp -d)
# a sanitizer report is a failure, not a message to scroll past
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=abort_on_error=1
trap 'rm -rf "$work"' EXIT
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work" "$@" 2>"$work/log"
rc=$?
tail -12 "$work/log"
if [ $rc -ne 0 ]; then
    for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
        [ -f "$f" ] && { echo "reproducer: $f"; od -c "$f" | head -20; }
    done
fi
exit $rc
