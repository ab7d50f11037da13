#!/bin/bash
# bench/run.sh — GPT-2 124M: compile time, correctness against PyTorch, and speed, each speed
# reported as a ratio against peers measured in the same run (the machine's read bandwidth
# and FMA peak, OpenBLAS, PyTorch eager). Not part of the test suite. See bench/README.md.
#
#   bench/run.sh                 the whole benchmark; appends a dated section to bench/RESULTS.md
#   REPEATS=9 bench/run.sh       more rounds per speed figure (default 5; medians are reported)
#   COMPILES=1 bench/run.sh      compile once instead of 3 times (the median is reported)
#   NO_RESULTS=1 bench/run.sh    print the report only, do not touch bench/RESULTS.md
#   THREADS="1 2" (default)      the -t values to measure kiln with
#
# Work files go to build/bench/ (the 500 MB random-weight model, the 500 MB executable).
# Exit status: 0 when everything ran and the logits match the reference; 1 otherwise.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
B=$ROOT/build/bench
M=$B/gpt2-124m
REPEATS=${REPEATS:-5}
THREADS=${THREADS:-1 2}
TODAY=${BENCH_DATE:-$(date +%Y-%m-%d)}
mkdir -p "$B"
REPORT=$B/report.md
: >"$REPORT"

. bench/lib.sh
rep() { printf '%s\n' "$*" | tee -a "$REPORT"; }

# The 16 ids of the reference ("Hello, my name is" + arbitrary ids), read from the JSON.
REF_JSON=bench/gpt2_124m_ref.json
REF_LAST=bench/gpt2_124m_ref_last.f32
[ -f "$REF_JSON" ] && [ -f "$REF_LAST" ] || die "$REF_JSON or $REF_LAST is missing (bench/make_ref.py writes them)"
IDS=$(grep '"ids"' "$REF_JSON" | sed 's/.*\[\(.*\)\].*/\1/; s/ //g')


# GPT-2 124M's arithmetic (see README.md "How the rooflines are computed").
WPE_BYTES=$((1024 * 768 * 4))                    # the position table: one row read per token
FLOP_BLOCKS=$((2 * 12 * 768 * (2304 + 768 + 3072 + 3072)))   # 169,869,312 per token
FLOP_ATTN128=$((12 * 4 * 768 * (128 * 129 / 2)))             # QK^T and A·V of a 128-token prompt
FLOP_HEAD=$((2 * 50257 * 768))                                # the head, last position only
PEAK_BASELINE=225                                # GFLOP/s, AVX-512 FMA, one core (shared/bench/BASELINE.md)

CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') (family $(grep -m1 '^cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), model $(grep -m1 '^model[[:space:]]' /proc/cpuinfo | cut -d: -f2 | tr -d ' '))"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "== kiln GPT-2 124M benchmark, $TODAY =="
say "machine: $CPU, $(nproc) vCPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); load average $LOAD0"

# ---- 1. build ------------------------------------------------------------------------------
say "-- build"
if [ ! -f build/build.ninja ]; then
    meson setup build >"$B/meson-setup.log" 2>&1 || { cat "$B/meson-setup.log"; die "meson setup build (scripts/setup.sh installs what it needs)"; }
fi
ninja -C build >"$B/ninja.log" 2>&1 || { tail -30 "$B/ninja.log"; die "ninja -C build"; }
KILN=$ROOT/build/driver/kiln
CC=${CC:-cc}
$CC -O2 -std=c11 -o "$B/gen_gpt2" bench/gen_gpt2.c || die "cannot build bench/gen_gpt2.c"
$CC -O2 -std=c11 -o "$B/check" bench/check.c -lm || die "cannot build bench/check.c"
$CC -O2 -march=native -std=c11 -o "$B/bw" bench/bw.c -lpthread || die "cannot build bench/bw.c"
$CC -O2 -march=native -ffp-contract=fast -std=c11 -o "$B/peak" bench/peak.c -lpthread || die "cannot build bench/peak.c"

# OpenBLAS: the dev package (pkg-config), else the runtime library itself (the cblas
# prototypes are in blas.c), else skip with the install hint.
BLAS_NOTE=""
if pkg-config --exists openblas 2>/dev/null; then
    $CC -O2 -std=c11 -o "$B/blas" bench/blas.c $(pkg-config --cflags --libs openblas) && BLAS_NOTE="libopenblas-dev (pkg-config)"
else
    LIBOB=$(ldconfig -p 2>/dev/null | awk '/libopenblas\.so\.0 / {print $NF; exit}')
    [ -n "$LIBOB" ] || LIBOB=$(ls /usr/lib/*/openblas*/libopenblas.so.0 /usr/lib/*/libopenblas.so.0 2>/dev/null | head -1)
    if [ -n "$LIBOB" ]; then
        $CC -O2 -std=c11 -o "$B/blas" bench/blas.c "$LIBOB" -Wl,-rpath,"$(dirname "$LIBOB")" &&
            BLAS_NOTE="$LIBOB (libopenblas-dev is not installed; linked the runtime library directly)"
    fi
fi
if [ -z "$BLAS_NOTE" ]; then
    rm -f "$B/blas"
    say "OpenBLAS not found: its figures are skipped. To include them: sudo apt-get install libopenblas-dev"
fi

# PyTorch eager (bench/torch_gpt2.py): Debian's python3-torch, else skipped with the hint.
TORCH_PY=/usr/bin/python3
TORCH_VERSION=""
if "$TORCH_PY" -c 'import torch, numpy' 2>/dev/null; then
    HAVE_TORCH=1
else
    HAVE_TORCH=0
    say "PyTorch not found: its figures are skipped. To include them: sudo apt-get install python3-torch python3-numpy"
fi

# ---- 2. the model --------------------------------------------------------------------------
say "-- model: $M"
if [ ! -f "$M/model.safetensors" ] || [ ! -f "$M/config.json" ]; then
    t0=$(now); "$B/gen_gpt2" "$M" || die "gen_gpt2"; say "generated in $(calc %.1f "$(now) - $t0") s"
else
    say "present (delete $M to regenerate)"
fi
TOK=../shared/models/gpt2-tokenizer
HAVE_TOK=0
if [ -f "$TOK/encoder.json" ] && [ -f "$TOK/vocab.bpe" ]; then
    cp "$TOK/encoder.json" "$TOK/vocab.bpe" "$M/" && HAVE_TOK=1
else
    rm -f "$M/encoder.json" "$M/vocab.bpe"
    say "no GPT-2 tokenizer at $TOK: the executable takes --tokens only, speed figures are skipped"
fi

# ---- 3. import + compile ---------------------------------------------------------------------
say "-- import and compile"
t0=$(now)
"$KILN" import "$M" -o "$M/model.xml" >"$B/import.log" 2>&1 || { tail -n 30 "$B/import.log"; die "kiln import"; }
T_IMPORT=$(calc %.3f "$(now) - $t0")
# COMPILES runs (default 3: the machine is noisy); the report gives the median wall time and
# the phases of that median run.
COMPILES=${COMPILES:-3}
: >"$B/compile-times"
for r in $(seq "$COMPILES"); do
    rm -f "$M/gpt2"
    t0=$(now)
    "$KILN" compile -v "$M/model.xml" -o "$M/gpt2" >"$B/compile-$r.log" 2>&1 || { tail -n 30 "$B/compile-$r.log"; die "kiln compile (the whole log: $B/compile-$r.log)"; }
    t=$(calc %.3f "$(now) - $t0")
    echo "$t $r" >>"$B/compile-times"
    say "compile run $r: $t s"
done
read -r T_COMPILE MED_RUN < <(sort -g "$B/compile-times" | sed -n "$(( (COMPILES + 1) / 2 ))p")
T_COMPILE_R=$(awk '{print $1}' "$B/compile-times" | minmax)
cp "$B/compile-$MED_RUN.log" "$B/compile.log"
say "median run ($T_COMPILE s):"
cat "$B/compile.log"
# phase lines: "kiln: NAME   0.123 s"
PHASES=$(awk '/^kiln: .* [0-9.]+ s$/ { t=$(NF-1); $1=""; $NF=""; $(NF-1)=""; sub(/^ +/, ""); sub(/ +$/, ""); printf "%s %s s, ", $0, t }' "$B/compile.log" | sed 's/, $//')
SLOWEST=$(awk '/^kiln: .* [0-9.]+ s$/ { t=$(NF-1); $1=""; $NF=""; $(NF-1)=""; sub(/^ +/, ""); sub(/ +$/, ""); if (t+0 > best+0) { best=t; name=$0 } } END { print name " (" best " s)" }' "$B/compile.log")
VERSION=$("$M/gpt2" --version) || die "the executable does not run"
WEIGHT_BYTES=$(printf '%s\n' "$VERSION" | sed -n 's/.*weights embedded, \([0-9]*\) bytes.*/\1/p')
[ -n "$WEIGHT_BYTES" ] || die "cannot read the weights' size from --version: $VERSION"
BYTES_PER_TOKEN=$((WEIGHT_BYTES - WPE_BYTES + 768 * 4))
EXE_BYTES=$(stat -c %s "$M/gpt2")
say "import $T_IMPORT s; compile $T_COMPILE s (wall, median of $COMPILES [$T_COMPILE_R]); executable $EXE_BYTES bytes; weights $WEIGHT_BYTES bytes, $BYTES_PER_TOKEN read per decoded token"

# ---- 4. correctness --------------------------------------------------------------------------
say "-- correctness: --tokens $IDS vs bench/make_ref.py (PyTorch float32)"
"$M/gpt2" --tokens "$IDS" --logits "$B/logits.f32" 2>"$B/logits.err" || { tail -n 30 "$B/logits.err"; die "the executable failed on --tokens"; }
"$B/check" "$REF_JSON" "$REF_LAST" "$B/logits.f32" | tee "$B/check.log"
CHECK_RC=${PIPESTATUS[0]}
CHECK_LAST=$(sed -n 's/^check: last position.*max |diff| \([^ ]*\) .*/\1/p' "$B/check.log")
CHECK_ARG=$(sed -n 's/^check: argmax equal at \(.*\) positions/\1/p' "$B/check.log")
if [ "$CHECK_RC" != 0 ]; then
    die "kiln's logits differ from the PyTorch reference (bench/check.log above); no speed figures for a wrong executable"
fi

# ---- 5. speed: kiln and its peers, interleaved -----------------------------------------------
# The machine is shared and its load moves within seconds: a peer measured a minute before or
# after kiln can be twice as fast or slow. So the run is REPEATS rounds; each round measures
# the bandwidth probe, the FMA probe, kiln (prefill and decode at every -t), OpenBLAS (one
# sweep of every shape) and the 2-thread bandwidth, back to back. Every figure is the median
# over the rounds; the rooflines use the best probe pass (the limit the machine showed in
# this run), so a ratio to a roofline never flatters kiln.
: >"$B/bw.log"; : >"$B/fig-bw1"; : >"$B/fig-bw1_4k"; : >"$B/fig-bw2"; : >"$B/fig-peak"; : >"$B/fig-peak2"; : >"$B/peak.log"; : >"$B/blas.log"; : >"$B/kiln.log"
bw_passes() { "$B/bw" "$@" | tee -a "$B/bw.log" | sed -n 's/^bw: pass [0-9]*: \([0-9.]*\) GB\/s/\1/p'; }
# one kiln run: prints "prompt_tps gen_tps prompt_tokens gen_tokens"
kiln_run() { # threads n prompt
    "$M/gpt2" -t "$1" -n "$2" -p "$3" --temperature 0 --stats 2>&1 >/dev/null | tee -a "$B/kiln.log" |
        awk '/^prompt:/ { pn=$2; pt=$7; sub(/\(/, "", pt) } /^generated:/ { gn=$2; gt=$7; sub(/\(/, "", gt) } END { print pt, gt, pn, gn }'
}
declare -A PFS DCS PF DC PFR DCR NOTE PF5S PF5 PF5R TPFS TPF5S TDCS TPF TPF5 TDC
if [ -x "$B/blas" ]; then say "OpenBLAS: $BLAS_NOTE; OPENBLAS_CORETYPE unset, 1 thread"; fi
if [ "$HAVE_TOK" = 1 ]; then
    say "-- speed: $REPEATS rounds; kiln prefill = 128-token prompt, -n 1; decode = \"$PROMPT_DECODE\", -n 128, greedy"
else
    say "-- speed: $REPEATS rounds of the peers only (no tokenizer for kiln's executable)"
fi
for r in $(seq "$REPEATS"); do
    line="round $r:"
    bw_passes 1 1 3 >>"$B/fig-bw1" || die "bw"
    BW_NO_THP=1 bw_passes 1 1 3 >>"$B/fig-bw1_4k" || die "bw"
    "$B/peak" 3 | tee -a "$B/peak.log" | sed -n 's/.*best \([0-9.]*\) GFLOP.*/\1/p' >>"$B/fig-peak" || die "peak"
    "$B/peak" 3 2 | tee -a "$B/peak.log" | sed -n 's/.*best \([0-9.]*\) GFLOP.*/\1/p' >>"$B/fig-peak2" || die "peak"
    line="$line bw $(tail -3 "$B/fig-bw1" | median) GB/s, peak $(tail -1 "$B/fig-peak") GFLOP/s"
    if [ "$HAVE_TOK" = 1 ]; then
        for t in $THREADS; do
            read -r ptps _ pn _ < <(kiln_run "$t" 1 "$PROMPT128") || die "kiln prefill run"
            [ "$pn" = 128 ] || die "the prefill prompt has $pn tokens, not 128 (tokenizer changed?)"
            read -r ptps5 _ PN512 _ < <(kiln_run "$t" 1 "$PROMPT512") || die "kiln prefill run"
            read -r _ gtps _ gn < <(kiln_run "$t" 128 "$PROMPT_DECODE") || die "kiln decode run"
            [ "$gn" = 128 ] || NOTE[$t]="decode stopped after $gn tokens in some runs"
            PFS[$t]="${PFS[$t]:-} $ptps"; PF5S[$t]="${PF5S[$t]:-} $ptps5"; DCS[$t]="${DCS[$t]:-} $gtps"
            line="$line; kiln t=$t prefill $ptps, pp$PN512 $ptps5, decode $gtps tok/s"
        done
    fi
    if [ "$HAVE_TORCH" = 1 ]; then
        for t in $THREADS; do
            out=$(env -u OPENBLAS_CORETYPE "$TORCH_PY" bench/torch_gpt2.py "$M" "$t" "128,${PN512:-512}" 128 2>>"$B/torch.log") ||
                die "bench/torch_gpt2.py (its log: $B/torch.log)"
            echo "$out" >>"$B/torch.log"
            read -r tpf tpf5 tdc < <(awk '{ print $8, $12, $16 }' <<<"$out")
            TORCH_VERSION=$(awk '{ print $2 }' <<<"$out")
            TPFS[$t]="${TPFS[$t]:-} $tpf"; TPF5S[$t]="${TPF5S[$t]:-} $tpf5"; TDCS[$t]="${TDCS[$t]:-} $tdc"
            line="$line; PyTorch t=$t prefill $tpf, pp${PN512:-512} $tpf5, decode $tdc tok/s"
        done
    fi
    if [ -x "$B/blas" ]; then
        env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 "$B/blas" 1 >"$B/blas-round.log" || die "blas"
        cat "$B/blas-round.log" >>"$B/blas.log"
        line="$line; OpenBLAS decode $(sed -n 's/^blas: decode peer.*: \([0-9.]*\) tokens\/s/\1/p' "$B/blas-round.log"), prefill $(sed -n 's/^blas: prefill peer.*: \([0-9.]*\) tokens\/s/\1/p' "$B/blas-round.log") tok/s"
    fi
    bw_passes 2 1 3 >>"$B/fig-bw2" || die "bw"
    say "  $line"
done
for t in $THREADS; do
    [ -n "${PFS[$t]:-}" ] || continue
    PF[$t]=$(tr ' ' '\n' <<<"${PFS[$t]}" | grep . | median); PFR[$t]=$(tr ' ' '\n' <<<"${PFS[$t]}" | grep . | minmax)
    DC[$t]=$(tr ' ' '\n' <<<"${DCS[$t]}" | grep . | median); DCR[$t]=$(tr ' ' '\n' <<<"${DCS[$t]}" | grep . | minmax)
    PF5[$t]=$(tr ' ' '\n' <<<"${PF5S[$t]}" | grep . | median); PF5R[$t]=$(tr ' ' '\n' <<<"${PF5S[$t]}" | grep . | minmax)
    NOTE[$t]=${NOTE[$t]:-}
done
for t in $THREADS; do
    [ -n "${TPFS[$t]:-}" ] || continue
    TPF[$t]=$(tr ' ' '\n' <<<"${TPFS[$t]}" | grep . | median); TPF5[$t]=$(tr ' ' '\n' <<<"${TPF5S[$t]}" | grep . | median)
    TDC[$t]=$(tr ' ' '\n' <<<"${TDCS[$t]}" | grep . | median)
done
BW1=$(sort -g "$B/fig-bw1" | tail -1); BW1MED=$(median <"$B/fig-bw1"); BW1R=$(minmax <"$B/fig-bw1")
BW1_4K=$(median <"$B/fig-bw1_4k")
BW2=$(sort -g "$B/fig-bw2" | tail -1); BW2MED=$(median <"$B/fig-bw2")
PEAK_NOW=$(sort -g "$B/fig-peak" | tail -1); PEAK_MED=$(median <"$B/fig-peak")
PEAK2=$(sort -g "$B/fig-peak2" | tail -1); PEAK2_MED=$(median <"$B/fig-peak2")
say "bandwidth, 1 thread: best $BW1 GB/s, median $BW1MED [$BW1R] (huge pages; 4 KiB pages: median $BW1_4K GB/s); 2 threads: best $BW2, median $BW2MED GB/s; FMA peak 1 thread best $PEAK_NOW, median $PEAK_MED GFLOP/s; 2 threads best $PEAK2, median $PEAK2_MED"

BLAS_DECODE=""; BLAS_PREFILL=""
if [ -x "$B/blas" ]; then
    BLAS_DECODE=$(sed -n 's/^blas: decode peer.*: \([0-9.]*\) tokens\/s/\1/p' "$B/blas.log" | median)
    BLAS_PREFILL=$(sed -n 's/^blas: prefill peer.*: \([0-9.]*\) tokens\/s/\1/p' "$B/blas.log" | median)
    blas_fig() { grep -F "$1" "$B/blas.log" | sed -n 's/.* \([0-9.]*\) GFLOP\/s.*/\1/p' | median; }
    blas_gb() { grep -F "$1" "$B/blas.log" | sed -n 's/.*= *\([0-9.]*\) GB\/s.*/\1/p' | median; }
    BLAS_CORE=$(sed -n 's/.*; core \([^;]*\);.*/\1/p' "$B/blas.log" | head -1)
    BL_V768=$(blas_fig 'sgemv   768 x  3072'); BL_VHEAD=$(blas_fig 'sgemv 50257 x   768')
    BL_M768=$(blas_fig 'sgemm   128 x   768 x   768'); BL_M3072=$(blas_fig 'sgemm   128 x  3072 x   768')
    BL_V768_GB=$(blas_gb 'sgemv   768 x  3072'); BL_VHEAD_GB=$(blas_gb 'sgemv 50257 x   768')
    say "OpenBLAS medians, GFLOP/s: sgemv 768x3072 $BL_V768 ($BL_V768_GB GB/s), sgemv 50257x768 $BL_VHEAD ($BL_VHEAD_GB GB/s), sgemm 128x768x768 $BL_M768, sgemm 128x3072x768 $BL_M3072; peers: decode $BLAS_DECODE, prefill $BLAS_PREFILL tok/s"
fi

# ---- 6. the report ---------------------------------------------------------------------------
FLOP_PER_TOKEN=$(calc %.0f "$FLOP_BLOCKS + ($FLOP_ATTN128 + $FLOP_HEAD) / 128")
ROOF_DECODE1=$(calc %.1f "$BW1 * 1e9 / $BYTES_PER_TOKEN")
ROOF_DECODE2=$(calc %.1f "$BW2 * 1e9 / $BYTES_PER_TOKEN")
ROOF_PF_NOW=$(calc %.0f "$PEAK_NOW * 1e9 / $FLOP_PER_TOKEN")
ROOF_PF_NOW2=$(calc %.0f "$PEAK2 * 1e9 / $FLOP_PER_TOKEN")
ROOF_PF_BASE=$(calc %.0f "$PEAK_BASELINE * 1e9 / $FLOP_PER_TOKEN")
ratio() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ] && calc %.2f "$1 / $2" || printf -- '—'; }
pct() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ] && calc '%.0f %%' "100 * $1 / $2" || printf -- '—'; }

COMPILE_OK=$(awk "BEGIN { print ($T_COMPILE < 10) ? \"under the 10 s goal\" : \"OVER the 10 s goal\" }")
rep ""
rep "## $TODAY — GPT-2 124M (random weights), $CPU, $(nproc) vCPUs, $(printf '%s\n' "$VERSION" | sed -n 's/.*\(cpu [^ ]*\).*/\1/p')"
rep ""
rep "Load average (1, 5, 15 min) at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg). Speeds are medians of $REPEATS rounds [min–max], kiln and peers interleaved; each ratio's peer was measured in this run unless marked *BASELINE*."
rep ""
rep "**Compile** (\`kiln compile -v\`, embedded weights, $WEIGHT_BYTES bytes): **$T_COMPILE s** wall (median of $COMPILES [$T_COMPILE_R]), $COMPILE_OK; import $T_IMPORT s."
rep "Phases: $PHASES. Slowest: $SLOWEST."
rep ""
rep "**Correctness** vs PyTorch float32 (bench/make_ref.py), 16 tokens: argmax equal at $CHECK_ARG positions; last position max |diff| $CHECK_LAST (tolerance 1e-4 × max|logit|): passed."
rep ""
rep "| figure | kiln | peer (measured now) | kiln / peer |"
rep "|---|---|---|---|"
if [ "$HAVE_TOK" = 1 ]; then
    for t in $THREADS; do
        if [ "$t" = 1 ]; then rd=$ROOF_DECODE1; bwt=$BW1; else rd=$ROOF_DECODE2; bwt=$BW2; fi
        n=""; [ -n "${NOTE[$t]}" ] && n=" (${NOTE[$t]})"
        rep "| decode tg128, t=$t, tok/s | ${DC[$t]} [${DCR[$t]}]$n | roofline $rd = $bwt GB/s (best pass) ÷ $(calc %.1f "$BYTES_PER_TOKEN / 1e6") MB/token | $(pct "${DC[$t]}" "$rd") |"
        if [ "$t" = 1 ] && [ -n "$BLAS_DECODE" ]; then
            rep "| | | OpenBLAS sgemv, the 49 products of a token: $BLAS_DECODE | $(ratio "${DC[$t]}" "$BLAS_DECODE") |"
        fi
        [ -n "${TDC[$t]:-}" ] && rep "| | | PyTorch $TORCH_VERSION eager (bench/torch_gpt2.py), t=$t: ${TDC[$t]} | $(ratio "${DC[$t]}" "${TDC[$t]}") |"
        [ "$t" = 1 ] && rep "| | | *BASELINE* llama.cpp 44.7 (not measured now) | $(ratio "${DC[$t]}" 44.7) |"
    done
    for t in $THREADS; do
        if [ "$t" = 1 ]; then
            rep "| prefill pp128, t=1, tok/s | ${PF[$t]} [${PFR[$t]}] | compute roofline $ROOF_PF_NOW = FMA peak $PEAK_NOW GFLOP/s (bench/peak.c, 1 thread) ÷ $(calc %.1f "$FLOP_PER_TOKEN / 1e6") MFLOP/token | $(pct "${PF[$t]}" "$ROOF_PF_NOW") |"
        else
            rep "| prefill pp128, t=$t, tok/s | ${PF[$t]} [${PFR[$t]}] | compute roofline $ROOF_PF_NOW2 = 2-thread FMA peak $PEAK2 GFLOP/s ÷ $(calc %.1f "$FLOP_PER_TOKEN / 1e6") MFLOP/token | $(pct "${PF[$t]}" "$ROOF_PF_NOW2") |"
        fi
        if [ "$t" = 1 ]; then
            rep "| | | *BASELINE* compute roofline $ROOF_PF_BASE (225 GFLOP/s, not measured now) | $(pct "${PF[$t]}" "$ROOF_PF_BASE") |"
            [ -n "$BLAS_PREFILL" ] && rep "| | | OpenBLAS sgemm, the 48 products of a 128-token prompt + head: $BLAS_PREFILL | $(ratio "${PF[$t]}" "$BLAS_PREFILL") |"
            rep "| | | *BASELINE* llama.cpp 511 (not measured now) | $(ratio "${PF[$t]}" 511) |"
        fi
        [ -n "${TPF[$t]:-}" ] && rep "| | | PyTorch $TORCH_VERSION eager, t=$t: ${TPF[$t]} | $(ratio "${PF[$t]}" "${TPF[$t]}") |"
    done
    for t in $THREADS; do
        rep "| prefill pp$PN512, t=$t, tok/s | ${PF5[$t]} [${PF5R[$t]}] | PyTorch $TORCH_VERSION eager, t=$t: ${TPF5[$t]:-not measured} | $(ratio "${PF5[$t]}" "${TPF5[$t]:-}") |"
    done
else
    rep "| speed | skipped: no GPT-2 tokenizer in ../shared/models/gpt2-tokenizer | | |"
fi
rep ""
rep "Machine now (rooflines use the best pass, the machine's demonstrated limit in this run; medians show the contention): read bandwidth (bench/bw.c, 1 GiB sum, huge pages) 1 thread best $BW1 GB/s, median $BW1MED [$BW1R], 4 KiB pages median $BW1_4K; 2 threads best $BW2, median $BW2MED GB/s. FMA peak (bench/peak.c) 1 thread best $PEAK_NOW, median $PEAK_MED GFLOP/s (BASELINE: 225); 2 threads best $PEAK2, median $PEAK2_MED."
if [ -n "$BLAS_DECODE" ]; then
    rep "OpenBLAS 0.3.21 ($BLAS_CORE kernels, 1 thread), GFLOP/s: sgemv 768×3072 $BL_V768 ($BL_V768_GB GB/s), sgemv 50257×768 $BL_VHEAD ($BL_VHEAD_GB GB/s), sgemm 128×768×768 $BL_M768, sgemm 128×3072×768 $BL_M3072."
else
    rep "OpenBLAS: not measured (libopenblas-dev absent)."
fi
if [ "$HAVE_TOK" = 1 ]; then
    case " $THREADS " in *" 2 "*)
        rep "Threads: t=2 vs t=1: decode $(ratio "${DC[2]}" "${DC[1]}")×, prefill $(ratio "${PF[2]}" "${PF[1]}")× (\`--stats\` of a -t 2 run: \`$(grep -m1 '^threads: 2' "$B/kiln.log")\`)." ;;
    esac
fi

if [ -z "${NO_RESULTS:-}" ]; then
    [ -f bench/RESULTS.md ] || printf '# GPT-2 124M benchmark results\n\nAppended by `bench/run.sh`, newest last. How to read them: bench/README.md.\n' >bench/RESULTS.md
    cat "$REPORT" >>bench/RESULTS.md
    say ""
    say "appended to bench/RESULTS.md"
fi
exit 0
