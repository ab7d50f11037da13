#!/bin/sh
# fuzz.sh [SECONDS] — runs every libFuzzer target for SECONDS each (default 600) in the
# clang-19 ASan+UBSan fuzz build. Crashes are left in build-fuzz/fuzz-artifacts/.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-600}
./scripts/setup.sh
[ -f build-fuzz/build.ninja ] ||
    CC=clang-19 meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
ninja -C build-fuzz
mkdir -p build-fuzz/fuzz-artifacts
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=abort_on_error=1
for t in model safetensors tokenizer; do
    exe=$(find build-fuzz/tests -name "fuzz_$t" -type f | head -1)
    corpus=build-fuzz/fuzz-corpus/$t
    mkdir -p "$corpus"
    echo "== fuzz_$t for $seconds s"
    "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix=build-fuzz/fuzz-artifacts/ "$corpus" "tests/fuzz/seeds/$t"
done
