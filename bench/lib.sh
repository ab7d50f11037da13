# bench/lib.sh — shell helpers shared by the benchmark scripts (sourced, not run).
die() { printf '\n*** bench: FAILED: %s ***\n\n' "$*" >&2; exit 1; }
say() { printf '%s\n' "$*"; }
now() { date +%s.%N; }
# median / min–max of the numbers on standard input
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else print "nan"}'; }
minmax() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s–%s", lo, hi}'; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# A 128-token prompt (GPT-2 tokenizer) for prefill, a short one for decode.
PROMPT128="It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was the season of Darkness, it was the spring of hope, it was the winter of despair, we had everything before us, we had nothing before us, we were all going direct to Heaven, we were all going direct the other way - in short, the period was so far like the present period, that some of its noisiest authorities insisted on its being received"
PROMPT_DECODE="Hello, my name is"
# About 512 tokens (the 128 four times; the joins may merge a token or two): the report gives the count.
PROMPT512="$PROMPT128 $PROMPT128 $PROMPT128 $PROMPT128"

# bench_model DIR: the GPT-2 124M model with random weights (bench/gen_gpt2.c), imported,
# with the GPT-2 tokenizer from ../shared when present (HAVE_TOK=1).
bench_model() {
    local m=$1 b
    b=$(dirname "$m")
    ${CC:-cc} -O2 -std=c11 -o "$b/gen_gpt2" bench/gen_gpt2.c || die "cannot build bench/gen_gpt2.c"
    if [ ! -f "$m/model.safetensors" ] || [ ! -f "$m/config.json" ]; then
        "$b/gen_gpt2" "$m" || die "gen_gpt2"
    fi
    HAVE_TOK=0
    local tok=../shared/models/gpt2-tokenizer
    if [ -f "$tok/encoder.json" ] && [ -f "$tok/vocab.bpe" ]; then
        cp "$tok/encoder.json" "$tok/vocab.bpe" "$m/" && HAVE_TOK=1
    else
        rm -f "$m/encoder.json" "$m/vocab.bpe"
    fi
    "$KILN" import "$m" -o "$m/model.xml" >"$b/import.log" 2>&1 || { tail -n 30 "$b/import.log"; die "kiln import"; }
}

# kiln_stats EXE THREADS N PROMPT: one generation; prints "prompt_tps gen_tps prompt_tokens gen_tokens"
kiln_stats() {
    "$1" -t "$2" -n "$3" -p "$4" --temperature 0 --stats 2>&1 >/dev/null |
        awk '/^prompt:/ { pn=$2; pt=$7; sub(/\(/, "", pt) } /^generated:/ { gn=$2; gt=$7; sub(/\(/, "", gt) } END { print pt, gt, pn, gn }'
}
