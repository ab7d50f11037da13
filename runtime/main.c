/* main.c — the produced executable's command line, around the compiler's `kiln_model`.
 *
 * Start-up does every allocation the run needs: the arena (kiln_model.arena_bytes, one
 * anonymous mapping: 64-byte aligned — page aligned in fact — and zeroed, holding every
 * activation and the KV caches), the weights (embedded, or a side file mapped read-only
 * and checked by size and rt_weights_check), the prompt text and its token ids. Then
 * either
 *   generation   the prompt goes to rt_generate (runtime/generate.c) through exec_step,
 *                which feeds kiln_model.forward in calls of at most max_seq positions and
 *                tracks `past`; after the prompt, one token per call;
 *   --tokens     the ids are fed the same way and the logits of every position (T x vocab
 *                float32, row-major, as `kiln run --tokens --logits` writes) go to a file.
 * Errors are sentences on stderr: exit 1 for a problem with the input or a file, 2 for a
 * problem with the command line. The decode loop allocates nothing (rt_generate's scratch
 * is one block allocated before it).
 *
 * Abuse (docs/cli.md): a prompt whose bytes already show that it cannot fit is refused
 * before tokenizing, and a prompt file is read no further than that (rt_read_all);
 * Ctrl-C during generation (runtime/signals.c) ends it between two tokens, after the text
 * so far and a newline, with exit status 130; a closed standard output ends it at the next
 * write (by SIGPIPE, or with an error when SIGPIPE is ignored).
 *
 * Threads: the pool (runtime/threads.c) is made once, after the arena and before the first
 * forward call, -t N wide, or by default as wide as rt_pool_start_default measures (a ~3 ms
 * probe: all the CPUs when they run it 1.3x faster than one, else 1); --stats and --version
 * print the choice. The environment variable KILN_PARALLEL_MIN_WORK=N overrides the
 * dispatch threshold (runtime/model.h; 1 splits every kernel): for measurements and the
 * tests, not for users.
 *
 * --profile runs kiln_model.forward_profiled instead of forward (runtime/profile.h): the
 * choice is made once, in Exec, so a run without it executes the plain forward only.
 * --selftest feeds the embedded ids (kiln compile --selftest) in one call and compares the
 * logits with the embedded ones (runtime/selftest.h): exit 0 when they agree, 1 when not,
 * 2 when the executable has none.
 *
 * `kiln diff` runs a capture build (KILN_MODEL_CAPTURE) with the hidden options
 * `--tokens ... --logits F --capture FILE [--capture-perturb NODE]`: every node's value of
 * the run goes to FILE (runtime/capture.c). They are not in --help: kiln diff is their user. */
#include "runtime/beam.h"
#include "runtime/capture.h"
#include "runtime/exe.h"
#include "runtime/model.h"
#include "runtime/profile.h"
#include "runtime/runtime.h"
#include "runtime/selftest.h"
#include "runtime/signals.h"
#include "runtime/unicode_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_N_NEW 256
#define MAX_THREADS RT_MAX_THREADS


static const char help[] =
    "usage: %s [options]\n"
    "\n"
    "Generates text with the model compiled into this executable (%s).\n"
    "\n"
    "prompt (one of):\n"
    "  -p PROMPT            the prompt text (UTF-8)\n"
    "  -f FILE              read the prompt from FILE ('-' = standard input)\n"
    "                       with neither, the prompt is read from standard input when it\n"
    "                       is not a terminal; an empty prompt starts from the start token\n"
    "generation:\n"
    "  -n N                 new tokens to generate (default %d)\n"
    "  --temperature T      0 = greedy, the most likely token each time (default 0, so that\n"
    "                       runs are reproducible); try 0.8 for varied text\n"
    "  --top-k K            sample from the K most likely tokens only (default 0 = all)\n"
    "  --top-p P            sample from the smallest set of tokens with probability mass P\n"
    "                       (default 1 = all)\n"
    "  --repeat-penalty R   penalize the tokens of the last %d positions: positive logits\n"
    "                       divided by R, negative ones multiplied by it (default 1 = off)\n"
    "  --seed S             random seed for sampling (default: from the clock)\n"
    "  --stop STRING        stop when the generated text reaches STRING, which is not\n"
    "                       printed; may be given several times\n"
    "  --ctx N              context length in positions, prompt included (default and\n"
    "                       maximum: the model's, %lld)\n"
    "  -t N                 threads, 1 to %d (default: measured at start-up, in about\n"
    "                       3 ms: all the CPUs when a probe runs 1.3x faster on them than\n"
    "                       on one, else 1; --version shows the choice). Any N gives the\n"
    "                       same output\n"
    "  --stats              print token counts, times and speeds to standard error:\n"
    "                       prefill: the prompt's tokens over the time of the forward\n"
    "                       call(s) that fed them; decode: the tokens fed after the\n"
    "                       prompt (one forward call each: every generated token but the\n"
    "                       last) over the time of those calls alone\n"
    "  --profile[=FILE]     time every kernel call: a table per kernel (node, op, calls, ms,\n"
    "                       %% of forward time, GFLOP/s and GB/s and their %% of the peaks)\n"
    "                       to standard error; with FILE, also a Chrome trace (JSON, for\n"
    "                       chrome://tracing or Perfetto) of every kernel and forward call.\n"
    "                       The peaks are measured at start-up (~50 ms, one thread: an FMA\n"
    "                       loop at the kernels' vector width, times the threads, and a\n"
    "                       32 MiB read loop) unless given:\n"
    "  --peak-gflops G      the machine's peak GFLOP/s, for --profile\n"
    "  --peak-gbs B         the machine's peak read bandwidth in GB/s, for --profile\n"
    "  --show-ids           print the prompt's and the generated token ids to standard error\n"
    "  --beam N             beam search with N hypotheses instead of sampling: the most likely\n"
    "                       continuation, printed at the end (N at most the model's dim batch)\n"
    "  --length-penalty A   with --beam: finished hypotheses rank by their sum of\n"
    "                       log-probabilities / length^A, length = generated tokens, the end\n"
    "                       token included (default 1)\n"
    "logits:\n"
    "  --tokens a,b,c       token ids to feed (batch of one), instead of a prompt\n"
    "  --logits FILE        with --tokens: write the float32 logits of every position\n"
    "                       (tokens x vocab, row-major) to FILE\n"
    "other:\n"
    "  --selftest           run the model on the input embedded by kiln compile --selftest and\n"
    "                       compare with the reference interpreter's logits stored with it:\n"
    "                       ok when every |difference| <= 1e-3 x max|reference| + 1e-4\n"
    "                       (exit 0), else the worst position (exit 1); exit 2 without one\n"
    "  --weights FILE       the weights file, for an executable compiled with external\n"
    "                       weights (default: this executable's path + '.weights')\n"
    "  --verify-weights     hash every byte of the weights (embedded or external) and compare\n"
    "                       with the hash recorded at compile time before running\n"
    "  --help               this text\n"
    "  --version            the model, the kiln that compiled it, the target and sizes\n"
    "\n"
    "Generation stops after N tokens, at the end-of-text token, at a stop string, or when\n"
    "the context is full. The prompt is printed, then the generated text as it comes.\n"
    "Ctrl-C (SIGINT) stops generation after the text so far: exit status 130.\n";

typedef struct Options {
    const char *prompt, *prompt_file, *tokens, *logits, *weights;
    const char *capture;        /* --capture FILE (kiln diff) */
    long long capture_perturb;  /* --capture-perturb NODE, or -1 */
    long long n_new, top_k, ctx, threads;
    long long beam;             /* --beam N, 0 without */
    double length_penalty;      /* --length-penalty A */
    int length_penalty_given;
    double temperature, top_p, repeat_penalty;
    unsigned long long seed;
    int seed_given, stats, show_ids, verify_weights;
    int profile, selftest;      /* --profile[=FILE], --selftest */
    const char *trace;          /* --profile=FILE, or NULL */
    double peak_gflops, peak_gbs;   /* --peak-gflops, --peak-gbs; 0: measure */
    const char **stops;         /* (argc) */
    int n_stops;
} Options;

/* Returns -1 when the arguments were parsed, else the exit status (0 after --help or
 * --version). */
static int parse_args(int argc, char **argv, Options *o);


/* rt_parse_int, but a whole number too long for a long long is out of range like any
 * other too large one ("-n 99999999999999999999"), not "not a whole number". */
static int count_option(const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    const char *d = v + (*v == '-' || *v == '+');
    if (*d && strspn(d, "0123456789") == strlen(d)) {
        errno = 0;
        (void)strtoll(v, NULL, 10);
        if (errno == ERANGE) return rt_usage("%s %s is out of range (%lld to %lld)", opt, v, lo, hi);
    }
    return rt_parse_int(opt, v, lo, hi, out);
}

static int parse_args(int argc, char **argv, Options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int missing = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf(help, rt_prog, kiln_model.name ? kiln_model.name : "unnamed", DEFAULT_N_NEW, RT_REPEAT_LAST_N,
                   (long long)kiln_model.max_positions, MAX_THREADS);
            return 0;
        }
        if (!strcmp(a, "--version")) {
            rt_print_version();
            return 0;
        }
        if (!strcmp(a, "--profile")) {
            o->profile = 1;
            continue;
        }
        if (!strncmp(a, "--profile=", 10)) {
            if (!a[10]) return rt_usage("--profile= needs a file name for the trace (or --profile alone: the table only)");
            o->profile = 1;
            o->trace = a + 10;
            continue;
        }
        if (!strcmp(a, "--selftest")) {
            o->selftest = 1;
            continue;
        }
        if ((v = rt_opt_value(argc, argv, &i, "--peak-gflops", &missing))) {
            if (rt_parse_float("--peak-gflops", v, 1e-3, 1e9, &o->peak_gflops)) return 2;
            continue;
        }
        if ((v = rt_opt_value(argc, argv, &i, "--peak-gbs", &missing))) {
            if (rt_parse_float("--peak-gbs", v, 1e-3, 1e9, &o->peak_gbs)) return 2;
            continue;
        }
        if ((v = rt_opt_value(argc, argv, &i, "-p", &missing))) o->prompt = v;
        else if ((v = rt_opt_value(argc, argv, &i, "-f", &missing))) o->prompt_file = v;
        else if ((v = rt_opt_value(argc, argv, &i, "-n", &missing))) {
            if (count_option("-n", v, 0, 1 << 30, &o->n_new)) return 2;
            if (o->n_new == 0) return rt_usage("-n 0: nothing to generate");
        } else if ((v = rt_opt_value(argc, argv, &i, "--temperature", &missing))) {
            if (rt_parse_float("--temperature", v, 0, 100, &o->temperature)) return 2;
        } else if ((v = rt_opt_value(argc, argv, &i, "--top-k", &missing))) {
            if (count_option("--top-k", v, 0, INT_MAX, &o->top_k)) return 2;
        } else if ((v = rt_opt_value(argc, argv, &i, "--top-p", &missing))) {
            if (rt_parse_float("--top-p", v, 0, 1, &o->top_p)) return 2;
        } else if ((v = rt_opt_value(argc, argv, &i, "--repeat-penalty", &missing))) {
            if (rt_parse_float("--repeat-penalty", v, 0, 100, &o->repeat_penalty)) return 2;
            if (o->repeat_penalty <= 0) return rt_usage("--repeat-penalty must be positive (1 = off), not '%s'", v);
        } else if ((v = rt_opt_value(argc, argv, &i, "--seed", &missing))) {
            char *end;
            errno = 0;
            o->seed = strtoull(v, &end, 10);
            if (end == v || *end || errno || v[0] == '-')
                return rt_usage("--seed needs a whole number from 0 to %llu, not '%s'", (unsigned long long)UINT64_MAX, v);
            o->seed_given = 1;
        } else if ((v = rt_opt_value(argc, argv, &i, "--stop", &missing))) {
            if (!*v) return rt_usage("--stop needs a non-empty string");
            o->stops[o->n_stops++] = v;
        } else if ((v = rt_opt_value(argc, argv, &i, "--ctx", &missing))) {
            char *end;
            errno = 0;
            o->ctx = strtoll(v, &end, 10);
            if (end == v || *end) return rt_usage("--ctx needs a whole number, not '%s'", v);
            if (errno == ERANGE || o->ctx < 1 || o->ctx > kiln_model.max_positions)
                return rt_usage("--ctx %s: the model's context is %lld positions (give 1 to %lld)", v,
                                (long long)kiln_model.max_positions, (long long)kiln_model.max_positions);
        } else if ((v = rt_opt_value(argc, argv, &i, "-t", &missing))) {
            if (count_option("-t", v, 1, MAX_THREADS, &o->threads)) return 2;
        } else if ((v = rt_opt_value(argc, argv, &i, "--beam", &missing))) {
            if (count_option("--beam", v, 1, 1 << 20, &o->beam)) return 2;
            if (o->beam > rt_dim_max("batch"))
                return rt_usage("--beam %s: this model runs at most %lld sequences per call (its dim batch); compile "
                                "it with <dim name=\"batch\" max=\"%s\"/> or more for that width", v,
                                (long long)rt_dim_max("batch"), v);
        } else if ((v = rt_opt_value(argc, argv, &i, "--length-penalty", &missing))) {
            if (rt_parse_float("--length-penalty", v, -10, 10, &o->length_penalty)) return 2;
            o->length_penalty_given = 1;
        } else if ((v = rt_opt_value(argc, argv, &i, "--tokens", &missing))) o->tokens = v;
        else if ((v = rt_opt_value(argc, argv, &i, "--logits", &missing))) o->logits = v;
        else if ((v = rt_opt_value(argc, argv, &i, "--weights", &missing))) o->weights = v;
        else if ((v = rt_opt_value(argc, argv, &i, "--capture-perturb", &missing))) {
            if (rt_parse_int("--capture-perturb", v, 0, LLONG_MAX, &o->capture_perturb)) return 2;
        } else if ((v = rt_opt_value(argc, argv, &i, "--capture", &missing))) o->capture = v;
        else if (!strcmp(a, "--stats")) o->stats = 1;
        else if (!strcmp(a, "--show-ids")) o->show_ids = 1;
        else if (!strcmp(a, "--verify-weights")) o->verify_weights = 1;
        else if (missing) return rt_usage("option '%s' needs a value", a);
        else if (a[0] == '-' && a[1]) return rt_usage("unknown option '%s'", a);
        else return rt_usage("unexpected argument '%s' (the prompt goes after -p)", a);
        if (missing) return rt_usage("option '%s' needs a value", a);
    }
    if (o->prompt && o->prompt_file) return rt_usage("give -p or -f, not both");
    if (o->tokens && (o->prompt || o->prompt_file)) return rt_usage("give a prompt (-p, -f) or --tokens, not both");
    if (o->tokens && !o->logits) return rt_usage("--tokens needs --logits FILE");
    if (o->logits && !o->tokens) return rt_usage("--logits needs --tokens a,b,c");
    if (o->weights && kiln_model.weights) return rt_usage("--weights: this executable has its weights embedded");
    if (o->capture && !(kiln_model.flags & KILN_MODEL_CAPTURE))
        return rt_usage("--capture: this executable was not compiled for capture (kiln diff makes such builds)");
    if (o->capture && !o->tokens) return rt_usage("--capture needs --tokens a,b,c --logits FILE");
    if (o->capture_perturb >= 0 && !o->capture) return rt_usage("--capture-perturb needs --capture FILE");
    if ((o->peak_gflops > 0 || o->peak_gbs > 0) && !o->profile)
        return rt_usage("--peak-gflops and --peak-gbs are for --profile");
    if (o->beam && (o->temperature > 0 || o->top_k || o->top_p < 1 || o->repeat_penalty != 1 || o->n_stops ||
                    o->seed_given))
        return rt_usage("--beam searches for the most likely text: --temperature, --top-k, --top-p, "
                        "--repeat-penalty, --stop and --seed are for sampling");
    if (o->length_penalty_given && !o->beam) return rt_usage("--length-penalty is for --beam N");
    if (o->beam && (o->tokens || o->selftest)) return rt_usage("--beam generates text from a prompt (-p, -f)");
    if (o->selftest && (o->prompt || o->prompt_file || o->tokens))
        return rt_usage("--selftest runs the embedded input: give no prompt (-p, -f) or --tokens with it");
    return -1;
}

/* ---- feeding the model ---------------------------------------------------------------------- */

typedef struct Exec {
    void *arena;
    const void *weights;
    int64_t past;               /* positions in the caches */
    int64_t ctx;                /* the bound of past */
    int started;                /* forward was called: the pool's workers were woken */
    KilnRun run;                /* kiln_model.run, or run_profiled with --profile */
    int logits_out;             /* the output `logits` among run's outputs */
    int64_t dims[KILN_MAX_DIMS];    /* run's dims: batch 1, seq and past set per call */
    int d_seq, d_past;          /* their places in dims (d_past -1 without a cache) */
    int profile;                /* time each call for rt_profile_forward */
    const char *phase;          /* what the calls are, for the profile: "prefill", "decode", "forward" */
    int64_t steps;              /* exec_step calls so far */
} Exec;

/* run's dims for a call of seq new positions after e->past; every other dim is 1 */
static void exec_dims(Exec *e, int64_t seq)
{
    e->dims[e->d_seq] = seq;
    if (e->d_past >= 0) e->dims[e->d_past] = e->past;
}

/* Feeds tokens[0..n) in calls of at most max_seq; returns the logits of the last position
 * (inside the arena), or NULL when they would not fit. With all, every position's logits
 * are written there; *write_error receives errno of the first write that failed. */
static const float *exec_feed(Exec *e, const int32_t *tokens, int64_t n, FILE *all, int *write_error)
{
    const float *logits = NULL;
    if (n < 1 || e->past + n > e->ctx) return NULL;
    if (!e->started) {          /* the workers spin from the first call on (rt_pool_wake) */
        rt_pool_wake();
        e->started = 1;
    }
    for (int64_t i = 0; i < n;) {
        int64_t k = n - i < kiln_model.max_seq ? n - i : kiln_model.max_seq;
        const void *in[1] = { tokens + i }, *out[KILN_MAX_IO];
        if (e->profile) {
            double t0 = rt_profile_now();
            exec_dims(e, k);
            e->run(e->arena, e->weights, in, e->dims, out);
            rt_profile_forward(e->phase, t0, rt_profile_now(), k);
        } else {
            exec_dims(e, k);
            e->run(e->arena, e->weights, in, e->dims, out);
        }
        logits = out[e->logits_out];
        e->past += k;
        i += k;
        size_t count = (size_t)(k * kiln_model.vocab);
        if (all && !*write_error) {
            errno = 0;
            if (fwrite(logits, sizeof *logits, count, all) != count) *write_error = errno ? errno : EIO;
        }
        if (i < n) continue;
        return logits + (k - 1) * kiln_model.vocab;
    }
    return logits;
}

static int exec_step(void *ctx, const int32_t *tokens, int n, float *logits)
{
    Exec *e = ctx;
    if (e->past + n > e->ctx) {
        rt_fail("internal error: %d more tokens do not fit in the context (%lld of %lld used)", n, (long long)e->past,
             (long long)e->ctx);
        return -1;
    }
    e->phase = e->steps++ ? "decode" : "prefill";
    const float *last = exec_feed(e, tokens, n, NULL, NULL);
    memcpy(logits, last, (size_t)kiln_model.vocab * sizeof *logits);
    return 0;
}

/* ---- the two modes ------------------------------------------------------------------------- */

static int run_logits(const Options *o, Exec *e)
{
    int32_t *ids = NULL;
    int64_t n = 0;
    int rc = rt_parse_tokens(o->tokens, &ids, &n);
    if (rc == 0 && n > e->ctx)
        rc = rt_fail("--tokens: %lld tokens do not fit in the context of %lld positions", (long long)n, (long long)e->ctx);
    if (rc == 0) {
        FILE *f = fopen(o->logits, "wb");
        if (!f) rc = rt_fail("cannot write '%s': %s", o->logits, strerror(errno));
        else {
            int werr = 0;
            exec_feed(e, ids, n, f, &werr);
            if (fclose(f) != 0 && !werr) werr = errno;
            if (werr) rc = rt_fail("cannot write '%s': %s", o->logits, strerror(werr));
        }
    }
    free(ids);
    return rc;
}

/* ---- beam search -------------------------------------------------------------------------- */

typedef struct BeamCtx {
    Exec *e;
    void *scratch;              /* rt_reorder_states' */
    int d_batch;
} BeamCtx;

/* rows 0..n-1 follow their parents, then take one token each at position past */
static int beam_step(void *ctx, const int32_t *parent, const int32_t *tokens, int n, const float **logits)
{
    BeamCtx *b = ctx;
    Exec *e = b->e;
    rt_reorder_states(e->arena, parent, n, b->scratch);
    const void *in[1] = { tokens }, *out[KILN_MAX_IO];
    if (b->d_batch >= 0) e->dims[b->d_batch] = n;
    exec_dims(e, 1);
    e->run(e->arena, e->weights, in, e->dims, out);
    e->past++;
    *logits = out[e->logits_out];
    return 0;
}

/* --beam N: the prompt's ids[0..n) fed at batch 1, then rt_beam_search (runtime/beam.h) over
 * up to N rows; the prompt and the best continuation are printed at the end. */
static int generate_beam(const Options *o, Exec *e, const RtTokenizer *tok, const int32_t *ids, long n,
                         const char *ptext, size_t len)
{
    int64_t most = o->n_new < e->ctx - n + 1 ? o->n_new : e->ctx - n + 1;
    int32_t eos = kiln_model.eos_id >= 0 ? (int32_t)kiln_model.eos_id
                : tok->eos_id != RT_TOK_NO_ID ? (int32_t)tok->eos_id : -1;
    RtBeamOptions bo = { (int)o->beam, o->length_penalty_given ? o->length_penalty : 1.0, (int)most, eos };
    RtBeam *beam = rt_beam_new(&bo, (int)kiln_model.vocab);
    BeamCtx b = { e, malloc(rt_reorder_scratch_bytes((int)o->beam)), rt_dim("batch") };
    int32_t *out = malloc((size_t)most * sizeof *out);
    int rc = 0, got = 0;
    double score = 0;
    if (!beam || !b.scratch || !out) rc = rt_fail("out of memory for the beam search");
    if (rc == 0) {
        const float *first = exec_feed(e, ids, n, NULL, NULL);
        RtBeamModel m = { &b, (int)kiln_model.vocab, beam_step };
        if (!first || rt_beam_search(beam, &m, first, out, &got, &score)) rc = rt_fail("the beam search failed");
    }
    if (rc == 0) {
        fwrite(ptext, 1, len, stdout);
        int32_t prev = n > 0 ? ids[n - 1] : -1;
        for (int i = 0; i < got && out[i] != eos; i++) {
            size_t k;
            const char *piece = rt_tok_decode_next(tok, prev, out[i], &k);
            if (piece) fwrite(piece, 1, k, stdout);
            prev = out[i];
        }
        fputc('\n', stdout);
        if (fflush(stdout) != 0 || ferror(stdout)) rc = rt_fail("cannot write the output: %s", strerror(errno));
    }
    if (rc == 0 && o->show_ids) {
        fputs("prompt ids:", stderr);
        for (long i = 0; i < n; i++) fprintf(stderr, "%s%d", i ? "," : " ", ids[i]);
        fputs("\ngenerated ids:", stderr);
        for (int i = 0; i < got; i++) fprintf(stderr, "%s%d", i ? "," : " ", out[i]);
        fprintf(stderr, "\nbeam score: %.6f\n", score);
    }
    rt_beam_free(beam);
    free(b.scratch), free(out);
    return rc;
}

static const char *stop_text(int stop)
{
    switch (stop) {
    case RT_STOP_EOS: return "end of text";
    case RT_STOP_STRING: return "stop string";
    case RT_STOP_CONTEXT: return "context full";
    case RT_STOP_ERROR: return "error";
    case RT_STOP_INTERRUPT: return "interrupted";
    case RT_STOP_OUTPUT: return "output closed";
    default: return "token count";
    }
}

/* ---- the prompt ---------------------------------------------------------------------------
 * A prompt whose bytes alone show that it cannot fit in ctx positions is refused before
 * tokenizing, and a prompt file is read no further than that: GPT-2's merges cost up to
 * O(n^2) in the length of a piece (runtime/bpe.c; a 10 MB word of random letters takes
 * seconds even with a small vocabulary), and `-f /dev/zero` would never end. A byte-level
 * BPE token stands for at most max_piece_len bytes of the text (decode(encode(s)) == s), so
 * a prompt of len bytes has at least len / max_piece_len tokens. The other kinds normalize
 * the text (SentencePiece makes one space of a run of them), so their bytes bound nothing;
 * they are linear or O(n log n), and their prompt files are read up to RT_MAX_READ_BYTES. */

/* The most bytes a prompt that fits in ctx positions can have (for GPT-2's tokenizer), or
 * RT_MAX_READ_BYTES. */
static size_t prompt_bytes_max(const RtTokenizer *tok, int64_t ctx)
{
    if (tok->kind != RT_TOK_GPT2 || tok->max_piece_len == 0) return RT_MAX_READ_BYTES;
    int64_t bos = (tok->flags & RT_TOK_F_ADD_BOS) && tok->bos_id != RT_TOK_NO_ID;
    uint64_t most = (uint64_t)(ctx > bos ? ctx - bos : 0) * tok->max_piece_len;
    return most < RT_MAX_READ_BYTES ? (size_t)most : RT_MAX_READ_BYTES;
}


/* Refuses text[0..len) (more than that when over) when its bytes show that it does not fit
 * in ctx positions; invalid UTF-8 is said first, with the tokenizer's words, so that the
 * message does not depend on the prompt's length (an incomplete character at the cut of an
 * over-long prompt is no error). Returns 1 after saying why. */
static int prompt_too_long(const RtTokenizer *tok, const char *text, size_t len, int over, const char *where,
                           int64_t ctx)
{
    size_t most = prompt_bytes_max(tok, ctx);
    if (!over && len <= most) return 0;
    size_t bad;
    if (!uni_utf8_valid((const uint8_t *)text, len, &bad) && (!over || bad + 4 <= len))
        return rt_fail("the prompt (%s) is not valid UTF-8: byte %zu (0x%02x) is not part of a character", where, bad,
                       (unsigned char)text[bad < len ? bad : len - 1]);
    if (most == RT_MAX_READ_BYTES)
        return rt_fail("the prompt (%s) is longer than %zu bytes, the most this executable reads", where, most);
    size_t bos = (tok->flags & RT_TOK_F_ADD_BOS) && tok->bos_id != RT_TOK_NO_ID;
    size_t least = (len + tok->max_piece_len - 1) / tok->max_piece_len + bos;
    return rt_fail("the prompt (%s) has %s%zu bytes, so at least %zu tokens (a token of this model stands for at "
                   "most %u bytes), more than the context of %lld positions%s", where, over ? "more than " : "",
                   over ? len - 1 : len, least, tok->max_piece_len, (long long)ctx,
                   ctx < kiln_model.max_positions ? " (--ctx)" : "");
}

static int run_generate(const Options *o, Exec *e, const RtTokenizer *tok)
{
    char *text = NULL;
    size_t len;
    int over = 0;
    const char *where = "-p PROMPT";
    if (o->prompt) {
        len = strlen(o->prompt);
    } else {
        where = o->prompt_file ? o->prompt_file : "-";
        text = rt_read_all(where, "prompt", prompt_bytes_max(tok, e->ctx), &len, &over);
        if (!text) return 1;
        if (!strcmp(where, "-")) where = "standard input";
    }
    const char *ptext = text ? text : o->prompt;
    int32_t *ids = NULL;
    int rc = 1;
    size_t err_at = 0;
    long n = 0;
    if (prompt_too_long(tok, ptext, len, over, where, e->ctx)) goto out;
    size_t cap = rt_tok_prompt_cap(tok, len);
    ids = cap < SIZE_MAX / sizeof *ids ? malloc(cap * sizeof *ids) : NULL;
    if (!ids) {
        rt_fail("out of memory for the prompt's tokens");
        goto out;
    }
    n = rt_tok_prompt(tok, ptext, len, ids, cap, &err_at);
    if (n == RT_TOK_EUTF8) {
        rt_fail("the prompt (%s) is not valid UTF-8: byte %zu (0x%02x) is not part of a character", where, err_at,
             (unsigned char)ptext[err_at < len ? err_at : len - 1]);
        goto out;
    }
    if (n == RT_TOK_ENOSTART) {
        rt_fail("the prompt is empty and the tokenizer has no start token");
        goto out;
    }
    if (n < 0) {
        rt_fail("the prompt (%s) cannot be tokenized: %s", where, rt_tok_strerror((int)n));
        goto out;
    }
    for (long i = 0; i < n; i++)
        if (ids[i] >= kiln_model.vocab) {
            rt_fail("the tokenizer gave id %d, beyond the model's vocabulary of %lld tokens", ids[i],
                 (long long)kiln_model.vocab);
            goto out;
        }
    if (n > e->ctx) {
        const char *which = e->ctx < kiln_model.max_positions ? " (--ctx)" : "";
        rt_fail("the prompt has %ld tokens, more than the context of %lld positions%s", n, (long long)e->ctx, which);
        goto out;
    }

    if (o->beam) {
        rc = generate_beam(o, e, tok, ids, n, ptext, len);
        goto out;
    }
    RtForward f = { e, exec_step, (int)kiln_model.vocab, (int)e->ctx };
    uint64_t seed = o->seed;
    if (!o->seed_given) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    }
    RtSampler sp = { (float)o->temperature, (int)(o->top_k < INT_MAX ? o->top_k : INT_MAX), (float)o->top_p, seed };
    int32_t eos = kiln_model.eos_id >= 0 ? (int32_t)kiln_model.eos_id
                : tok->eos_id != RT_TOK_NO_ID ? (int32_t)tok->eos_id : -1;
    RtGenOptions go = { (int)o->n_new, eos, (float)o->repeat_penalty, RT_REPEAT_LAST_N, o->stops, o->n_stops };
    int32_t *gen = NULL;
    if (o->show_ids) {
        int64_t most = o->n_new < e->ctx - n + 1 ? o->n_new : e->ctx - n + 1;
        gen = malloc((size_t)most * sizeof *gen);
        if (!gen) {
            rt_fail("out of memory for the generated ids");
            goto out;
        }
    }
    RtGenStats st;
    int cerr = rt_catch_interrupt();
    if (cerr) {
        rt_fail("cannot catch SIGINT: %s", strerror(cerr));
        free(gen);
        goto out;
    }
    fwrite(ptext, 1, len, stdout);
    fflush(stdout);
    int got = rt_generate(&f, tok, &sp, &go, ids, (int)n, stdout, gen, &st);
    fputc('\n', stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        rt_fail("cannot write the output: %s", strerror(errno));
        free(gen);
        goto out;
    }
    if (got < 0) {
        free(gen);
        goto out;
    }
    if (o->show_ids) {
        fputs("prompt ids:", stderr);
        for (long i = 0; i < n; i++) fprintf(stderr, "%s%d", i ? "," : " ", ids[i]);
        fputs("\ngenerated ids:", stderr);
        for (int i = 0; i < got; i++) fprintf(stderr, "%s%d", i ? "," : " ", gen[i]);
        fputc('\n', stderr);
    }
    free(gen);
    if (st.stop == RT_STOP_CONTEXT)
        fprintf(stderr, "%s: stopped: the context of %lld positions is full\n", rt_prog, (long long)e->ctx);
    if (st.stop == RT_STOP_INTERRUPT)
        fprintf(stderr, "%s: interrupted after %d new tokens\n", rt_prog, st.new_tokens);
    if (o->stats) {
        double pre = st.prefill_seconds, dec = st.decode_seconds;
        fprintf(stderr, "prompt: %d tokens in %.3f s (%.1f tokens/s)\n", st.prompt_tokens, pre,
                pre > 0 ? st.prompt_tokens / pre : 0.0);
        fprintf(stderr, "generated: %d tokens in %.3f s (%.1f tokens/s, sampling and text included); "
                "stopped at: %s\n", st.new_tokens, dec, dec > 0 ? st.new_tokens / dec : 0.0, stop_text(st.stop));
        rt_print_speeds(stderr, &st);
        rt_threads_describe(stderr);
    }
    rc = st.stop == RT_STOP_INTERRUPT ? RT_EXIT_INTERRUPTED : 0;
out:
    free(ids);
    free(text);
    return rc;
}

/* --selftest: the embedded ids in one forward call from position 0, against the embedded
 * logits. Returns the exit status: 0 agree, 1 differ (or the data is damaged). */
static int run_selftest(Exec *e)
{
    const KilnModel *m = &kiln_model;
    int64_t n = m->selftest_n;
    if (n > m->max_seq || n > e->ctx || !m->selftest_tokens || !m->selftest_logits)
        return rt_fail("the selftest data in this executable is inconsistent (%lld tokens, at most %lld per call, "
                    "context %lld); the executable is damaged", (long long)n, (long long)m->max_seq, (long long)e->ctx);
    for (int64_t i = 0; i < n; i++)
        if (m->selftest_tokens[i] < 0 || m->selftest_tokens[i] >= m->vocab)
            return rt_fail("the selftest's token %lld (id %d) is outside the vocabulary; the executable is damaged",
                        (long long)i, m->selftest_tokens[i]);
    rt_pool_wake();
    e->started = 1;
    double t0 = e->profile ? rt_profile_now() : 0;
    const void *in[1] = { m->selftest_tokens }, *out[KILN_MAX_IO];
    exec_dims(e, n);
    e->run(e->arena, e->weights, in, e->dims, out);
    const float *got = out[e->logits_out];
    if (e->profile) rt_profile_forward("selftest", t0, rt_profile_now(), n);
    e->past = n;
    return rt_selftest_check(got, m->selftest_logits, n, m->vocab, stdout);
}

int main(int argc, char **argv)
{
    if (argc > 0 && argv[0] && *argv[0]) {
        const char *slash = strrchr(argv[0], '/');
        rt_prog = slash ? slash + 1 : argv[0];
    }
    if (rt_check_model()) return 1;
    if (kiln_model.kind == KILN_ENCODER) return rt_encoder_main(argc, argv);
    if (kiln_model.kind == KILN_SEQ2SEQ) return rt_seq2seq_main(argc, argv);
    Options o = { 0 };
    o.n_new = DEFAULT_N_NEW;
    o.top_p = 1;
    o.repeat_penalty = 1;
    o.ctx = kiln_model.max_positions;
    o.threads = 0;          /* measured */
    o.capture_perturb = -1;
    o.stops = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *o.stops);
    if (!o.stops) return rt_fail("out of memory");
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) {
        free(o.stops);
        return rc;
    }
    for (int i = 0; i < o.n_stops; i++) {
        size_t bad;
        if (!uni_utf8_valid((const uint8_t *)o.stops[i], strlen(o.stops[i]), &bad)) {
            rc = rt_usage("--stop: the string is not valid UTF-8 (byte %zu, 0x%02x)", bad, (unsigned char)o.stops[i][bad]);
            free(o.stops);
            return rc;
        }
    }

    RtTokenizer tok;
    void *tok_copy = NULL;
    if (o.selftest && kiln_model.selftest_n < 1) {
        free(o.stops);
        fprintf(stderr, "%s: this executable has no selftest: compile it with `kiln compile --selftest MODEL -o OUT` "
                "to embed a short input and the reference interpreter's logits for it\n", rt_prog);
        return 2;
    }
    if (o.profile && (!kiln_model.run_profiled || (kiln_model.n_sites > 0 && !kiln_model.sites))) {
        free(o.stops);
        return rt_fail("--profile: this executable has no profiled forward (its model was not compiled by kiln's "
                    "backend); compile it again with this kiln");
    }
    if (!o.tokens && !o.selftest) {
        if (!kiln_model.tokenizer) {
            free(o.stops);
            return rt_fail("this model has no tokenizer: give token ids with --tokens a,b,c --logits FILE");
        }
        if (rt_open_tokenizer(&tok, &tok_copy)) {
            free(o.stops);
            return 1;
        }
        if (!o.prompt && !o.prompt_file) {
            if (isatty(STDIN_FILENO)) {
                free(tok_copy);
                free(o.stops);
                return rt_usage("no prompt: give -p PROMPT, -f FILE, or text on standard input");
            }
            o.prompt_file = "-";
        }
    }

    RtWeights w = { 0 };
    void *arena = NULL;
    rc = rt_start(o.weights, o.verify_weights, o.stats, o.threads, &w, &arena);
    FILE *trace = NULL;
    if (rc == 0 && o.trace && !(trace = fopen(o.trace, "w")))
        rc = rt_fail("--profile: cannot write the trace '%s': %s", o.trace, strerror(errno));
    if (rc == 0 && o.profile) {
        RtPeaks peaks = { 0 };
        peaks.gflops = o.peak_gflops;
        peaks.gbs = o.peak_gbs;
        rt_profile_measure_peaks(&kiln_model, rt_pool_info.threads, &peaks);
        if (rt_profile_start(&kiln_model, &peaks, trace != NULL)) rc = rt_fail("out of memory for the profile");
    }
    int cerr = rc == 0 && o.capture ? rt_capture_open(o.capture, o.capture_perturb) : 0;
    if (cerr) rc = rt_fail("cannot write '%s': %s", o.capture, strerror(cerr));
    if (rc == 0) {
        Exec e = { arena, w.data, 0, o.ctx, 0, o.profile ? kiln_model.run_profiled : kiln_model.run,
                   rt_output("logits"), { 0 }, rt_dim("seq"), rt_dim("past"), o.profile, "forward", 0 };
        for (int i = 0; i < kiln_model.n_dims; i++) e.dims[i] = 1;
        rc = o.selftest ? run_selftest(&e) : o.tokens ? run_logits(&o, &e) : run_generate(&o, &e, &tok);
    }
    if (o.profile) {
        if (rc == 0) rt_profile_report(stderr);
        int terr = 0;
        if (trace) {
            terr = rc == 0 ? rt_profile_write_trace(trace) : 0;
            if (fclose(trace) != 0 && !terr) terr = errno;
            if (terr && rc == 0) rc = rt_fail("--profile: cannot write the trace '%s': %s", o.trace, strerror(terr));
        }
        rt_profile_stop();
    }
    if ((cerr = rt_capture_close()) && rc == 0) rc = rt_fail("cannot write '%s': %s", o.capture, strerror(cerr));
    rt_stop(&w, arena);
    free(tok_copy);
    free(o.stops);
    return rc;
}
