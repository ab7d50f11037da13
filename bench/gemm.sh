#!/bin/bash
# bench/gemm.sh — kiln's matmul kernels against OpenBLAS sgemm on GPT-2 124M's prefill
# shapes (M = 128 and 512; the four block matrices in both layouts and the tied head),
# GFLOP/s of each and their ratio, medians of interleaved rounds (bench/gemm.c says how).
# Not part of the test suite; about 2 minutes. See bench/README.md "GEMM micro-benchmark".
#
#   bench/gemm.sh                  5 rounds, M = 128 and 512
#   REPEATS=9 bench/gemm.sh        more rounds
#   bench/gemm.sh 128 77           other row counts
#   BUILD=build-x bench/gemm.sh    another meson build directory (default build)
#
# OpenBLAS is the Debian runtime library (libopenblas.so.0, loaded with dlopen), run with one
# thread and OPENBLAS_CORETYPE unset so that it picks its AVX-512 kernels where it can.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh
BUILD=${BUILD:-build}
REPEATS=${REPEATS:-5}
if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" >/dev/null || die "meson setup $BUILD (scripts/setup.sh installs what it needs)"
fi
ninja -C "$BUILD" -j2 tests/backend/bench_gemm >/dev/null || die "ninja -C $BUILD tests/backend/bench_gemm"
say "GEMM: kiln vs OpenBLAS sgemm, 1 thread, $(date -u '+%Y-%m-%d %H:%M UTC')"
say "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) vCPUs"
say "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 "$BUILD/tests/backend/bench_gemm" "$REPEATS" "$@" ||
    die "bench_gemm"
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
