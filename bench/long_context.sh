#!/bin/bash
# bench/long_context.sh — a LLaMA-shaped model (RoPE, grouped-query attention) at contexts up
# to 2048: does decode time per token grow no faster than the bytes it reads (weights + the
# KV cache so far), and what fraction of the FMA peak does prefill attention reach?
#
#   bench/long_context.sh          ≈ 3 min; prints the report (build/bench-long/report.md)
#   REPEATS=N (default 3)          runs per figure; medians are reported
#   THREADS="1 2" (default "1")    the -t values
#
# The model: bench/gen_llama2c.c's default (dim 512, 8 layers, 8 query / 4 kv heads of 64,
# hidden 1376, vocab 512, context 4096; 94 MB of float32 weights), random weights, imported
# with the tok512.bin tokenizer of ../shared/models/stories260K (the bench stops without it).
# Prompts: one sentence pair repeated; their token counts come from --stats. For each
# context L: prefill of the L-token prompt, then 64 greedy tokens; decode tok/s is over those.
# Bytes per decoded token at context L = the weights (the embedding row only) + the K and V
# caches of every layer up to L: 2 · layers · L · kv_dim · 4.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
B=$ROOT/build/bench-long
REPEATS=${REPEATS:-3}
THREADS=${THREADS:-1}
mkdir -p "$B"
REPORT=$B/report.md
: >"$REPORT"
. bench/lib.sh
rep() { printf '%s\n' "$*" | tee -a "$REPORT"; }

TOK=../shared/models/stories260K/tok512.bin
[ -f "$TOK" ] || die "$TOK is missing: the bench needs its 512-token vocabulary"
if [ ! -f build/build.ninja ]; then
    meson setup build >"$B/meson-setup.log" 2>&1 || { cat "$B/meson-setup.log"; die "meson setup build"; }
fi
ninja -C build >"$B/ninja.log" 2>&1 || { tail -30 "$B/ninja.log"; die "ninja -C build"; }
KILN=$ROOT/build/driver/kiln
CC=${CC:-cc}
$CC -O2 -std=c11 -o "$B/gen_llama2c" bench/gen_llama2c.c -lm || die "cannot build bench/gen_llama2c.c"
$CC -O2 -march=native -std=c11 -o "$B/bw" bench/bw.c -lpthread || die "cannot build bench/bw.c"
$CC -O2 -march=native -ffp-contract=fast -std=c11 -o "$B/peak" bench/peak.c -lpthread || die "cannot build bench/peak.c"

DIM=512 LAYERS=8 KV_DIM=256
[ -f "$B/llama.bin" ] || "$B/gen_llama2c" "$B/llama.bin" >"$B/gen.log" || die "gen_llama2c"
"$KILN" import "$B/llama.bin" --tokenizer "$TOK" -o "$B/llama.xml" >"$B/import.log" 2>&1 || { cat "$B/import.log"; die "kiln import"; }
"$KILN" compile "$B/llama.xml" -o "$B/llama" >"$B/compile.log" 2>&1 || { cat "$B/compile.log"; die "kiln compile"; }
WEIGHT_BYTES=$("$B/llama" --version | sed -n 's/.*weights embedded, \([0-9]*\) bytes.*/\1/p')
[ -n "$WEIGHT_BYTES" ] || die "cannot read the weights' size from --version"
WEIGHTS_READ=$((WEIGHT_BYTES - 512 * DIM * 4 + DIM * 4))       # the embedding: one row per token

SENT="Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. "
for reps in 1 4 17 34 68; do           # about 30 tokens a pair: contexts ≈ 30, 120, 510, 1020, 2040
    printf "%s" "$(for _ in $(seq $reps); do printf '%s' "$SENT"; done)" >"$B/prompt-$reps.txt"
done

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "== kiln long-context benchmark, $(date +%Y-%m-%d): $(sed -n 's/gen_llama2c: wrote [^ ]* (\(.*\))/\1/p' "$B/gen.log")"
: >"$B/runs.log"
declare -A DEC PRE PN
for r in $(seq "$REPEATS"); do
    bw=$("$B/bw" 1 1 3 | sed -n 's/^bw: pass [0-9]*: \([0-9.]*\) GB\/s/\1/p' | sort -g | tail -1)
    echo "$bw" >>"$B/fig-bw"
    "$B/peak" 3 | sed -n 's/.*best \([0-9.]*\) GFLOP.*/\1/p' >>"$B/fig-peak"
    for t in $THREADS; do
        for reps in 1 4 17 34 68; do
            out=$("$B/llama" -t "$t" -f "$B/prompt-$reps.txt" -n 64 --stats 2>&1 >/dev/null) || die "the executable failed: $out"
            echo "t=$t reps=$reps $out" >>"$B/runs.log"
            pn=$(sed -n 's/^prefill: .*(\([0-9]*\) tokens.*/\1/p' <<<"$out")
            pre=$(sed -n 's/^prefill: \([0-9.]*\) tok.*/\1/p' <<<"$out")
            dec=$(sed -n 's/^decode: \([0-9.]*\) tok.*/\1/p' <<<"$out")
            PN[$reps]=$pn
            PRE[$t,$reps]="${PRE[$t,$reps]:-} $pre"
            DEC[$t,$reps]="${DEC[$t,$reps]:-} $dec"
        done
    done
    say "round $r: bandwidth $bw GB/s, decode at the longest context $dec tok/s"
done
BW=$(sort -g "$B/fig-bw" | tail -1)
PEAK=$(sort -g "$B/fig-peak" | tail -1)

rep ""
rep "## $(date +%Y-%m-%d) — long context: LLaMA-shaped, $(sed -n 's/gen_llama2c: wrote [^ ]* (\(.*\))/\1/p' "$B/gen.log")"
rep ""
rep "Load average at the start $LOAD0, at the end $(cut -d' ' -f1-3 /proc/loadavg); medians of $REPEATS runs. Read bandwidth (bench/bw.c, best pass) $BW GB/s; FMA peak (bench/peak.c, 1 thread, best) $PEAK GFLOP/s. Decode reads $WEIGHTS_READ bytes of weights per token plus the KV cache."
rep ""
rep "| threads | context L | prefill tok/s | decode tok/s | ms/token | MB read/token | ms/token ÷ that at the shortest | MB/token ÷ that at the shortest | roofline tok/s | % of roofline |"
rep "|---|---|---|---|---|---|---|---|---|---|"
for t in $THREADS; do
    base_ms=""; base_mb=""
    for reps in 1 4 17 34 68; do
        L=${PN[$reps]}
        pre=$(tr ' ' '\n' <<<"${PRE[$t,$reps]}" | grep . | median)
        dec=$(tr ' ' '\n' <<<"${DEC[$t,$reps]}" | grep . | median)
        ms=$(calc %.3f "1000 / $dec")
        mb=$(calc %.2f "($WEIGHTS_READ + 2 * $LAYERS * ($L + 32) * $KV_DIM * 4) / 1e6")    # the cache at mid-decode
        [ -n "$base_ms" ] || { base_ms=$ms; base_mb=$mb; }
        roof=$(calc %.1f "$BW * 1e3 / $mb")
        rep "| $t | $L | $pre | $dec | $ms | $mb | $(calc %.2f "$ms / $base_ms") | $(calc %.2f "$mb / $base_mb") | $roof | $(calc %.0f "100 * $dec / $roof") |"
    done
done

# Prefill attention at the longest context, from --profile: its GFLOP/s against the peak.
"$B/llama" -t 1 -f "$B/prompt-68.txt" -n 1 --profile --peak-gflops "$PEAK" --peak-gbs "$BW" 2>"$B/profile.txt" >/dev/null ||
    die "the profiled run failed"
ATT=$(awk '$3 == "attention" { ms += $5; gf += $5 * $7 } END { if (ms > 0) printf "%.1f %.1f", ms, gf / ms }' "$B/profile.txt")
read -r att_ms att_gf <<<"$ATT"
rep ""
rep "Prefill of ${PN[68]} tokens (t=1, --profile, build/bench-long/profile.txt): attention $att_ms ms at $att_gf GFLOP/s = $(calc %.0f "100 * $att_gf / $PEAK") % of the FMA peak."
say ""
say "report: $REPORT"
