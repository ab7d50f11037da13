#!/bin/bash
# bench/fusions.sh — what each fusion is worth on GPT-2 124M (random weights): decode and
# prefill speed of executables compiled with every pass and with each fusion switched off
# (--disable-pass), measured interleaved in the same rounds, reported as ratios to the
# fully fused executable. Not part of the test suite.
#
#   bench/fusions.sh             REPEATS=5 rounds (medians), THREADS="1 2"
#   PROMPT_REPEAT=4 (default)    the long prefill prompt is the 128-token one repeated 4 times
#
# Work files go to build/bench/ (shared with bench/run.sh: the model is made once).
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh
B=$PWD/build/bench
M=$B/gpt2-124m
REPEATS=${REPEATS:-5}
THREADS=${THREADS:-1 2}
mkdir -p "$B"
[ -f build/build.ninja ] || meson setup build >/dev/null || die "meson setup build"
ninja -C build >"$B/ninja.log" 2>&1 || { tail -30 "$B/ninja.log"; die "ninja -C build"; }
KILN=$PWD/build/driver/kiln
bench_model "$M"
[ "$HAVE_TOK" = 1 ] || die "no GPT-2 tokenizer at ../shared/models/gpt2-tokenizer: the speed runs need prompts"
LONG=""
for _ in $(seq "${PROMPT_REPEAT:-4}"); do LONG="$LONG $PROMPT128"; done

VARIANTS="all fuse-attention fuse-norm fuse-epilogue fuse-attention,fuse-norm,fuse-epilogue"
say "== fusions on GPT-2 124M, $(date +%Y-%m-%d); load $(cut -d' ' -f1-3 /proc/loadavg)"
for v in $VARIANTS; do
    exe=$B/fusion-${v//,/+}
    flag=(); [ "$v" = all ] || flag=(--disable-pass="$v")
    "$KILN" compile "$M/model.xml" -o "$exe" "${flag[@]}" >"$B/fusion-compile.log" 2>&1 ||
        { cat "$B/fusion-compile.log"; die "kiln compile ${flag[*]}"; }
done
declare -A PF PL DC
for r in $(seq "$REPEATS"); do
    line="round $r:"
    for t in $THREADS; do
        for v in $VARIANTS; do
            exe=$B/fusion-${v//,/+}
            read -r p _ pn _ < <(kiln_stats "$exe" "$t" 1 "$PROMPT128") || die "prefill run"
            [ "$pn" = 128 ] || die "the prompt has $pn tokens, not 128"
            read -r pl _ pln _ < <(kiln_stats "$exe" "$t" 1 "$LONG") || die "long prefill run"
            read -r _ d _ _ < <(kiln_stats "$exe" "$t" 128 "$PROMPT_DECODE") || die "decode run"
            k="$t/$v"
            PF[$k]="${PF[$k]:-} $p"; PL[$k]="${PL[$k]:-} $pl"; DC[$k]="${DC[$k]:-} $d"
            line="$line t=$t $v $p/$pl/$d;"
        done
    done
    say "  $line"
done
med() { tr ' ' '\n' <<<"$1" | grep . | median; }
say ""
say "Medians of $REPEATS rounds, tok/s; ratio = variant / all passes (below 1: the fusion helps). Long prompt: $pln tokens."
say ""
say "| threads | passes | prefill pp128 | ratio | prefill pp$pln | ratio | decode tg128 | ratio |"
say "|---|---|---|---|---|---|---|---|"
for t in $THREADS; do
    a1=$(med "${PF[$t/all]}"); a2=$(med "${PL[$t/all]}"); a3=$(med "${DC[$t/all]}")
    for v in $VARIANTS; do
        k="$t/$v"; p=$(med "${PF[$k]}"); pl=$(med "${PL[$k]}"); d=$(med "${DC[$k]}")
        name="all"; [ "$v" = all ] || name="without ${v//,/, }"
        say "| $t | $name | $p | $(calc %.2f "$p / $a1") | $pl | $(calc %.2f "$pl / $a2") | $d | $(calc %.2f "$d / $a3") |"
    done
done
