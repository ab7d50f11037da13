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
#include "runtime/capture.h"
#include "runtime/model.h"
#include "runtime/profile.h"
#include "runtime/runtime.h"
#include "runtime/selftest.h"
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

#ifndef KILN_VERSION
#define KILN_VERSION "unknown"
#endif

#define DEFAULT_N_NEW 256
#define MAX_THREADS RT_MAX_THREADS

static const char *prog = "model";

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
    "the context is full. The prompt is printed, then the generated text as it comes.\n";

typedef struct Options {
    const char *prompt, *prompt_file, *tokens, *logits, *weights;
    const char *capture;        /* --capture FILE (kiln diff) */
    long long capture_perturb;  /* --capture-perturb NODE, or -1 */
    long long n_new, top_k, ctx, threads;
    double temperature, top_p, repeat_penalty;
    unsigned long long seed;
    int seed_given, stats, show_ids, verify_weights;
    int profile, selftest;      /* --profile[=FILE], --selftest */
    const char *trace;          /* --profile=FILE, or NULL */
    double peak_gflops, peak_gbs;   /* --peak-gflops, --peak-gbs; 0: measure */
    const char **stops;         /* (argc) */
    int n_stops;
} Options;

/* ---- messages ------------------------------------------------------------------------- */

static void vmessage(const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: error: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

/* A problem with the input, a file or the model: returns 1, the exit status. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    return 1;
}

/* A problem with the command line: returns 2, the exit status. */
static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    fprintf(stderr, "(see: %s --help)\n", prog);
    return 2;
}

/* ---- the command line ------------------------------------------------------------------ */

/* "-n VALUE", "-nVALUE" (short names), "--name VALUE", "--name=VALUE" (long names): returns
 * the value and advances *i, or NULL when argv[*i] is not this option. *missing is set when
 * it is, without a value. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == 0) {
        if (*i + 1 >= argc) {
            *missing = 1;
            return NULL;
        }
        return argv[++*i];
    }
    if (name[1] == '-' ? a[n] == '=' : 1) return a + n + (name[1] == '-');
    return NULL;
}

static int parse_int(const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno == ERANGE)
        return usage("%s needs a whole number, not '%s'", opt, v);
    if (x < lo || x > hi) return usage("%s %s is out of range (%lld to %lld)", opt, v, lo, hi);
    *out = x;
    return 0;
}

static int parse_float(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno == ERANGE || x != x)
        return usage("%s needs a number, not '%s'", opt, v);
    if (!(x >= lo && x <= hi)) return usage("%s %s is out of range (%g to %g)", opt, v, lo, hi);
    *out = x;
    return 0;
}

/* Returns -1 when the arguments were parsed, else the exit status (0 after --help or
 * --version). */
static int parse_args(int argc, char **argv, Options *o);

/* ---- threads ------------------------------------------------------------------------------ */

/* The pool's width and how it was chosen. */
static struct {
    int threads, measured, tried;
    double speedup;
} pool_info;

/* Makes the pool: given threads (-t), or 0 for the measured default. */
static int threads_start(long long given)
{
    if (given > 0) {
        int e = rt_pool_start((int)given);
        if (e) return fail("cannot start %lld threads: %s", given, strerror(e));
        pool_info.threads = (int)given;
        pool_info.measured = 0;
    } else {
        pool_info.threads = rt_pool_start_default(&pool_info.tried, &pool_info.speedup);
        pool_info.measured = 1;
    }
    const char *mw = getenv("KILN_PARALLEL_MIN_WORK");
    if (mw && *mw) {
        char *end;
        errno = 0;
        long long v = strtoll(mw, &end, 10);
        if (*end || errno || v < 1)
            return fail("KILN_PARALLEL_MIN_WORK must be a whole number from 1 up, not '%s'", mw);
        rt_pool_set_min_work(v);
    }
    return 0;
}

static void threads_describe(FILE *f)
{
    if (!pool_info.measured)
        fprintf(f, "threads: %d (-t)\n", pool_info.threads);
    else if (pool_info.tried < 2)
        fprintf(f, "threads: 1 (default: this process may use one CPU)\n");
    else
        fprintf(f, "threads: %d (default: at start-up a compute probe ran %.2fx as fast on %d threads as on 1, "
                "%s the 1.3x needed)\n", pool_info.threads, pool_info.speedup, pool_info.tried,
                pool_info.threads > 1 ? "over" : "under");
}

static void print_version(void)
{
    const KilnModel *m = &kiln_model;
    printf("%s\n", m->name ? m->name : "(unnamed model)");
    printf("  compiled by kiln %s; runtime of kiln %s (ABI %u)\n", m->kiln_version ? m->kiln_version : "?",
           KILN_VERSION, m->abi_version);
    printf("  target %s, cpu %s\n", m->target ? m->target : "?", m->cpu ? m->cpu : "?");
    if (m->weights)
        printf("  weights embedded, %llu bytes\n", (unsigned long long)m->weights_bytes);
    else
        printf("  weights external (<executable>.weights or --weights FILE), %llu bytes\n",
               (unsigned long long)m->weights_bytes);
    printf("  vocabulary %lld tokens, context %lld positions (at most %lld per forward call)\n",
           (long long)m->vocab, (long long)m->max_positions, (long long)m->max_seq);
    printf("  arena %llu bytes; tokenizer %s\n", (unsigned long long)m->arena_bytes,
           m->tokenizer ? "embedded" : "none (use --tokens)");
    if (m->selftest_n > 0) printf("  selftest: %lld tokens and their logits embedded (--selftest)\n", (long long)m->selftest_n);
    else printf("  selftest: none (kiln compile --selftest embeds one)\n");
    if (threads_start(0) == 0) {
        printf("  ");
        threads_describe(stdout);
        rt_pool_stop();
    }
}

static int parse_args(int argc, char **argv, Options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int missing = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf(help, prog, kiln_model.name ? kiln_model.name : "unnamed", DEFAULT_N_NEW, RT_REPEAT_LAST_N,
                   (long long)kiln_model.max_positions, MAX_THREADS);
            return 0;
        }
        if (!strcmp(a, "--version")) {
            print_version();
            return 0;
        }
        if (!strcmp(a, "--profile")) {
            o->profile = 1;
            continue;
        }
        if (!strncmp(a, "--profile=", 10)) {
            if (!a[10]) return usage("--profile= needs a file name for the trace (or --profile alone: the table only)");
            o->profile = 1;
            o->trace = a + 10;
            continue;
        }
        if (!strcmp(a, "--selftest")) {
            o->selftest = 1;
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--peak-gflops", &missing))) {
            if (parse_float("--peak-gflops", v, 1e-3, 1e9, &o->peak_gflops)) return 2;
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--peak-gbs", &missing))) {
            if (parse_float("--peak-gbs", v, 1e-3, 1e9, &o->peak_gbs)) return 2;
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "-p", &missing))) o->prompt = v;
        else if ((v = opt_value(argc, argv, &i, "-f", &missing))) o->prompt_file = v;
        else if ((v = opt_value(argc, argv, &i, "-n", &missing))) {
            if (parse_int("-n", v, 0, 1 << 30, &o->n_new)) return 2;
            if (o->n_new == 0) return usage("-n 0: nothing to generate");
        } else if ((v = opt_value(argc, argv, &i, "--temperature", &missing))) {
            if (parse_float("--temperature", v, 0, 100, &o->temperature)) return 2;
        } else if ((v = opt_value(argc, argv, &i, "--top-k", &missing))) {
            if (parse_int("--top-k", v, 0, INT_MAX, &o->top_k)) return 2;
        } else if ((v = opt_value(argc, argv, &i, "--top-p", &missing))) {
            if (parse_float("--top-p", v, 0, 1, &o->top_p)) return 2;
        } else if ((v = opt_value(argc, argv, &i, "--repeat-penalty", &missing))) {
            if (parse_float("--repeat-penalty", v, 0, 100, &o->repeat_penalty)) return 2;
            if (o->repeat_penalty <= 0) return usage("--repeat-penalty must be positive (1 = off), not '%s'", v);
        } else if ((v = opt_value(argc, argv, &i, "--seed", &missing))) {
            char *end;
            errno = 0;
            o->seed = strtoull(v, &end, 10);
            if (end == v || *end || errno || v[0] == '-')
                return usage("--seed needs a whole number from 0 to %llu, not '%s'", (unsigned long long)UINT64_MAX, v);
            o->seed_given = 1;
        } else if ((v = opt_value(argc, argv, &i, "--stop", &missing))) {
            if (!*v) return usage("--stop needs a non-empty string");
            o->stops[o->n_stops++] = v;
        } else if ((v = opt_value(argc, argv, &i, "--ctx", &missing))) {
            if (parse_int("--ctx", v, 1, LLONG_MAX, &o->ctx)) return 2;
            if (o->ctx > kiln_model.max_positions)
                return usage("--ctx %s: the model's context is %lld positions", v, (long long)kiln_model.max_positions);
        } else if ((v = opt_value(argc, argv, &i, "-t", &missing))) {
            if (parse_int("-t", v, 1, MAX_THREADS, &o->threads)) return 2;
        } else if ((v = opt_value(argc, argv, &i, "--tokens", &missing))) o->tokens = v;
        else if ((v = opt_value(argc, argv, &i, "--logits", &missing))) o->logits = v;
        else if ((v = opt_value(argc, argv, &i, "--weights", &missing))) o->weights = v;
        else if ((v = opt_value(argc, argv, &i, "--capture-perturb", &missing))) {
            if (parse_int("--capture-perturb", v, 0, LLONG_MAX, &o->capture_perturb)) return 2;
        } else if ((v = opt_value(argc, argv, &i, "--capture", &missing))) o->capture = v;
        else if (!strcmp(a, "--stats")) o->stats = 1;
        else if (!strcmp(a, "--show-ids")) o->show_ids = 1;
        else if (!strcmp(a, "--verify-weights")) o->verify_weights = 1;
        else if (missing) return usage("option '%s' needs a value", a);
        else if (a[0] == '-' && a[1]) return usage("unknown option '%s'", a);
        else return usage("unexpected argument '%s' (the prompt goes after -p)", a);
        if (missing) return usage("option '%s' needs a value", a);
    }
    if (o->prompt && o->prompt_file) return usage("give -p or -f, not both");
    if (o->tokens && (o->prompt || o->prompt_file)) return usage("give a prompt (-p, -f) or --tokens, not both");
    if (o->tokens && !o->logits) return usage("--tokens needs --logits FILE");
    if (o->logits && !o->tokens) return usage("--logits needs --tokens a,b,c");
    if (o->weights && kiln_model.weights) return usage("--weights: this executable has its weights embedded");
    if (o->capture && !(kiln_model.flags & KILN_MODEL_CAPTURE))
        return usage("--capture: this executable was not compiled for capture (kiln diff makes such builds)");
    if (o->capture && !o->tokens) return usage("--capture needs --tokens a,b,c --logits FILE");
    if (o->capture_perturb >= 0 && !o->capture) return usage("--capture-perturb needs --capture FILE");
    if ((o->peak_gflops > 0 || o->peak_gbs > 0) && !o->profile)
        return usage("--peak-gflops and --peak-gbs are for --profile");
    if (o->selftest && (o->prompt || o->prompt_file || o->tokens))
        return usage("--selftest runs the embedded input: give no prompt (-p, -f) or --tokens with it");
    return -1;
}

/* ---- start-up: model, weights, arena ---------------------------------------------------- */

static int check_model(void)
{
    const KilnModel *m = &kiln_model;
    if (m->abi_version != KILN_ABI_VERSION)
        return fail("the model was compiled for runtime ABI %u, but this runtime is ABI %u; "
                    "compile it again with this kiln", m->abi_version, KILN_ABI_VERSION);
    if (!m->forward || m->vocab < 1 || m->vocab > INT_MAX / 2 || m->max_seq < 1 || m->max_positions < 1 ||
        m->max_positions > INT_MAX / 2 || m->eos_id >= m->vocab || (m->weights && (uintptr_t)m->weights % 64))
        return fail("the model's description in this executable is inconsistent (vocab %lld, max_seq %lld, "
                    "context %lld); the executable is damaged", (long long)m->vocab, (long long)m->max_seq,
                    (long long)m->max_positions);
    return 0;
}

typedef struct Weights {
    const void *data;
    void *map;                  /* the mapping to undo, or NULL */
    size_t map_len;
} Weights;

static _Alignas(64) const char no_weights[64];

/* The embedded blob, or the side file mapped read-only and checked. */
static int weights_open(const char *path_arg, Weights *w)
{
    const KilnModel *m = &kiln_model;
    if (m->weights) {
        w->data = m->weights;
        return 0;
    }
    char self[PATH_MAX + 16];
    const char *path = path_arg;
    if (!path) {
        ssize_t n = readlink("/proc/self/exe", self, PATH_MAX);
        if (n <= 0 || n >= PATH_MAX)
            return fail("this executable's weights are in a side file, and its own path is unknown "
                        "(/proc/self/exe: %s); give --weights FILE", n < 0 ? strerror(errno) : "too long");
        memcpy(self + n, ".weights", 9);
        path = self;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail("cannot open the weights file '%s': %s (this executable was compiled with its weights in a "
                    "side file; %s)", path, strerror(errno),
                    path_arg ? "check the path" : "put it beside the executable or give --weights FILE");
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail("cannot read the weights file '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail("the weights file '%s' is not a regular file", path);
    }
    if ((uint64_t)st.st_size != m->weights_bytes) {
        close(fd);
        return fail("the weights file '%s' has %llu bytes, but this model's weights have %llu: it is %s", path,
                    (unsigned long long)st.st_size, (unsigned long long)m->weights_bytes,
                    (uint64_t)st.st_size < m->weights_bytes ? "truncated or another model's" : "another model's");
    }
    if (m->weights_bytes == 0) {
        close(fd);
        w->data = no_weights;
        return 0;
    }
    void *p = mmap(NULL, (size_t)m->weights_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return fail("cannot map the weights file '%s': %s", path, strerror(e));
    uint64_t check = rt_weights_check(p, m->weights_bytes);
    if (check != m->weights_check) {
        munmap(p, (size_t)m->weights_bytes);
        return fail("the weights file '%s' does not belong to this executable (check %016llx, expected %016llx): "
                    "use the file compiled with it", path, (unsigned long long)check,
                    (unsigned long long)m->weights_check);
    }
    w->data = p;
    w->map = p;
    w->map_len = (size_t)m->weights_bytes;
    return 0;
}

/* The arena: one anonymous mapping, page aligned (so 64-byte aligned) and zeroed. */
static void *arena_alloc(void)
{
    uint64_t n = kiln_model.arena_bytes ? kiln_model.arena_bytes : 64;
    if (n > SIZE_MAX / 2) return NULL;
    void *p = mmap(NULL, (size_t)n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* ---- feeding the model ---------------------------------------------------------------------- */

typedef const float *(*ForwardFn)(void *arena, const void *weights, const int32_t *tokens, int64_t seq,
                                  int64_t past);

typedef struct Exec {
    void *arena;
    const void *weights;
    int64_t past;               /* positions in the caches */
    int64_t ctx;                /* the bound of past */
    int started;                /* forward was called: the pool's workers were woken */
    ForwardFn forward;          /* kiln_model.forward, or forward_profiled with --profile */
    int profile;                /* time each call for rt_profile_forward */
    const char *phase;          /* what the calls are, for the profile: "prefill", "decode", "forward" */
    int64_t steps;              /* exec_step calls so far */
} Exec;

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
        if (e->profile) {
            double t0 = rt_profile_now();
            logits = e->forward(e->arena, e->weights, tokens + i, k, e->past);
            rt_profile_forward(e->phase, t0, rt_profile_now(), k);
        } else {
            logits = e->forward(e->arena, e->weights, tokens + i, k, e->past);
        }
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
        fail("internal error: %d more tokens do not fit in the context (%lld of %lld used)", n, (long long)e->past,
             (long long)e->ctx);
        return -1;
    }
    e->phase = e->steps++ ? "decode" : "prefill";
    const float *last = exec_feed(e, tokens, n, NULL, NULL);
    memcpy(logits, last, (size_t)kiln_model.vocab * sizeof *logits);
    return 0;
}

/* ---- the two modes ------------------------------------------------------------------------- */

static int parse_tokens(const char *s, int32_t **out, int64_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) return fail("out of memory for %zu token ids", cap);
    *out = ids;
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || (*end && *end != ','))
            return usage("--tokens needs token ids separated by commas: bad id at '%s'", p);
        if (v >= kiln_model.vocab)
            return fail("--tokens: id %lld (position %lld) is out of range: the vocabulary has %lld tokens", v,
                        (long long)*n, (long long)kiln_model.vocab);
        ids[(*n)++] = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    if (*n == 0) return usage("--tokens: no token ids");
    return 0;
}

static int run_logits(const Options *o, Exec *e)
{
    int32_t *ids = NULL;
    int64_t n = 0;
    int rc = parse_tokens(o->tokens, &ids, &n);
    if (rc == 0 && n > e->ctx)
        rc = fail("--tokens: %lld tokens do not fit in the context of %lld positions", (long long)n, (long long)e->ctx);
    if (rc == 0) {
        FILE *f = fopen(o->logits, "wb");
        if (!f) rc = fail("cannot write '%s': %s", o->logits, strerror(errno));
        else {
            int werr = 0;
            exec_feed(e, ids, n, f, &werr);
            if (fclose(f) != 0 && !werr) werr = errno;
            if (werr) rc = fail("cannot write '%s': %s", o->logits, strerror(werr));
        }
    }
    free(ids);
    return rc;
}

/* Reads all of FILE ('-': standard input) into a NUL-terminated buffer. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fail("cannot read the prompt file '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            char *b = cap < SIZE_MAX / 2 ? realloc(buf, cap *= 2) : NULL;
            if (!b) free(buf);
            buf = b;
        }
    }
    int bad = ferror(f), e = errno;
    if (f != stdin) fclose(f);
    if (!buf) {
        fail("the prompt '%s' does not fit in memory", path);
        return NULL;
    }
    if (bad) {
        free(buf);
        fail("cannot read the prompt %s: %s", strcmp(path, "-") ? path : "from standard input", strerror(e));
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static const char *stop_text(int stop)
{
    switch (stop) {
    case RT_STOP_EOS: return "end of text";
    case RT_STOP_STRING: return "stop string";
    case RT_STOP_CONTEXT: return "context full";
    case RT_STOP_ERROR: return "error";
    default: return "token count";
    }
}

static int run_generate(const Options *o, Exec *e, const RtTokenizer *tok)
{
    char *text = NULL;
    size_t len;
    const char *where = "-p PROMPT";
    if (o->prompt) {
        len = strlen(o->prompt);
    } else {
        where = o->prompt_file ? o->prompt_file : "-";
        text = read_all(where, &len);
        if (!text) return 1;
        if (!strcmp(where, "-")) where = "standard input";
    }
    const char *ptext = text ? text : o->prompt;
    size_t cap = rt_tok_prompt_cap(tok, len);
    int32_t *ids = cap < SIZE_MAX / sizeof *ids ? malloc(cap * sizeof *ids) : NULL;
    int rc = 1;
    size_t err_at = 0;
    long n = 0;
    if (!ids) {
        fail("out of memory for the prompt's tokens");
        goto out;
    }
    n = rt_tok_prompt(tok, ptext, len, ids, cap, &err_at);
    if (n == RT_TOK_EUTF8) {
        fail("the prompt (%s) is not valid UTF-8: byte %zu (0x%02x) is not part of a character", where, err_at,
             (unsigned char)ptext[err_at < len ? err_at : len - 1]);
        goto out;
    }
    if (n == RT_TOK_ENOSTART) {
        fail("the prompt is empty and the tokenizer has no start token");
        goto out;
    }
    if (n < 0) {
        fail("the prompt (%s) cannot be tokenized: %s", where, rt_tok_strerror((int)n));
        goto out;
    }
    for (long i = 0; i < n; i++)
        if (ids[i] >= kiln_model.vocab) {
            fail("the tokenizer gave id %d, beyond the model's vocabulary of %lld tokens", ids[i],
                 (long long)kiln_model.vocab);
            goto out;
        }
    if (n > e->ctx) {
        const char *which = e->ctx < kiln_model.max_positions ? " (--ctx)" : "";
        fail("the prompt has %ld tokens, more than the context of %lld positions%s", n, (long long)e->ctx, which);
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
            fail("out of memory for the generated ids");
            goto out;
        }
    }
    RtGenStats st;
    fwrite(ptext, 1, len, stdout);
    fflush(stdout);
    int got = rt_generate(&f, tok, &sp, &go, ids, (int)n, stdout, gen, &st);
    fputc('\n', stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fail("cannot write the output: %s", strerror(errno));
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
        fprintf(stderr, "%s: stopped: the context of %lld positions is full\n", prog, (long long)e->ctx);
    if (o->stats) {
        double pre = st.prefill_seconds, dec = st.decode_seconds;
        fprintf(stderr, "prompt: %d tokens in %.3f s (%.1f tokens/s)\n", st.prompt_tokens, pre,
                pre > 0 ? st.prompt_tokens / pre : 0.0);
        fprintf(stderr, "generated: %d tokens in %.3f s (%.1f tokens/s, sampling and text included); "
                "stopped at: %s\n", st.new_tokens, dec, dec > 0 ? st.new_tokens / dec : 0.0, stop_text(st.stop));
        rt_print_speeds(stderr, &st);
        threads_describe(stderr);
    }
    rc = 0;
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
        return fail("the selftest data in this executable is inconsistent (%lld tokens, at most %lld per call, "
                    "context %lld); the executable is damaged", (long long)n, (long long)m->max_seq, (long long)e->ctx);
    for (int64_t i = 0; i < n; i++)
        if (m->selftest_tokens[i] < 0 || m->selftest_tokens[i] >= m->vocab)
            return fail("the selftest's token %lld (id %d) is outside the vocabulary; the executable is damaged",
                        (long long)i, m->selftest_tokens[i]);
    rt_pool_wake();
    e->started = 1;
    double t0 = e->profile ? rt_profile_now() : 0;
    const float *got = e->forward(e->arena, e->weights, m->selftest_tokens, n, 0);
    if (e->profile) rt_profile_forward("selftest", t0, rt_profile_now(), n);
    e->past = n;
    return rt_selftest_check(got, m->selftest_logits, n, m->vocab, stdout);
}

int main(int argc, char **argv)
{
    if (argc > 0 && argv[0] && *argv[0]) {
        const char *slash = strrchr(argv[0], '/');
        prog = slash ? slash + 1 : argv[0];
    }
    if (check_model()) return 1;
    Options o = { 0 };
    o.n_new = DEFAULT_N_NEW;
    o.top_p = 1;
    o.repeat_penalty = 1;
    o.ctx = kiln_model.max_positions;
    o.threads = 0;          /* measured */
    o.capture_perturb = -1;
    o.stops = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *o.stops);
    if (!o.stops) return fail("out of memory");
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) {
        free(o.stops);
        return rc;
    }
    for (int i = 0; i < o.n_stops; i++) {
        size_t bad;
        if (!uni_utf8_valid((const uint8_t *)o.stops[i], strlen(o.stops[i]), &bad)) {
            rc = usage("--stop: the string is not valid UTF-8 (byte %zu, 0x%02x)", bad, (unsigned char)o.stops[i][bad]);
            free(o.stops);
            return rc;
        }
    }

    /* the tokenizer, read in place (4-byte aligned: copied once if the blob is not) */
    RtTokenizer tok;
    void *tok_copy = NULL;
    if (o.selftest && kiln_model.selftest_n < 1) {
        free(o.stops);
        fprintf(stderr, "%s: this executable has no selftest: compile it with `kiln compile --selftest MODEL -o OUT` "
                "to embed a short input and the reference interpreter's logits for it\n", prog);
        return 2;
    }
    if (o.profile && (!kiln_model.forward_profiled || (kiln_model.n_sites > 0 && !kiln_model.sites))) {
        free(o.stops);
        return fail("--profile: this executable has no profiled forward (its model was not compiled by kiln's "
                    "backend); compile it again with this kiln");
    }
    if (!o.tokens && !o.selftest) {
        if (!kiln_model.tokenizer) {
            free(o.stops);
            return fail("this model has no tokenizer: give token ids with --tokens a,b,c --logits FILE");
        }
        const void *blob = kiln_model.tokenizer;
        if ((uintptr_t)blob % 4) {
            tok_copy = malloc((size_t)kiln_model.tokenizer_bytes);
            if (tok_copy) memcpy(tok_copy, blob, (size_t)kiln_model.tokenizer_bytes);
            blob = tok_copy;
        }
        int trc = blob ? rt_tok_open(blob, (size_t)kiln_model.tokenizer_bytes, &tok) : RT_TOK_ETRUNC;
        if (trc != RT_TOK_OK) {
            free(tok_copy);
            free(o.stops);
            return fail("the tokenizer table in this executable is unusable: %s", rt_tok_strerror(trc));
        }
        if (!o.prompt && !o.prompt_file) {
            if (isatty(STDIN_FILENO)) {
                free(tok_copy);
                free(o.stops);
                return usage("no prompt: give -p PROMPT, -f FILE, or text on standard input");
            }
            o.prompt_file = "-";
        }
    }

    Weights w = { 0 };
    void *arena = NULL;
    rc = weights_open(o.weights, &w);
    if (rc == 0 && o.verify_weights) {
        uint64_t h = rt_weights_hash(w.data, kiln_model.weights_bytes);
        if (h != kiln_model.weights_hash)
            rc = fail("the weights are damaged: their hash is %016llx, expected %016llx", (unsigned long long)h,
                      (unsigned long long)kiln_model.weights_hash);
        else if (o.stats)
            fprintf(stderr, "weights verified: %llu bytes, hash %016llx\n", (unsigned long long)kiln_model.weights_bytes,
                    (unsigned long long)h);
    }
    if (rc == 0 && !(arena = arena_alloc()))
        rc = fail("cannot allocate the model's memory (%llu bytes): %s", (unsigned long long)kiln_model.arena_bytes,
                  strerror(errno));
    if (rc == 0) rc = threads_start(o.threads);
    FILE *trace = NULL;
    if (rc == 0 && o.trace && !(trace = fopen(o.trace, "w")))
        rc = fail("--profile: cannot write the trace '%s': %s", o.trace, strerror(errno));
    if (rc == 0 && o.profile) {
        RtPeaks peaks = { 0 };
        peaks.gflops = o.peak_gflops;
        peaks.gbs = o.peak_gbs;
        rt_profile_measure_peaks(&kiln_model, pool_info.threads, &peaks);
        if (rt_profile_start(&kiln_model, &peaks, trace != NULL)) rc = fail("out of memory for the profile");
    }
    int cerr = rc == 0 && o.capture ? rt_capture_open(o.capture, o.capture_perturb) : 0;
    if (cerr) rc = fail("cannot write '%s': %s", o.capture, strerror(cerr));
    if (rc == 0) {
        Exec e = { arena, w.data, 0, o.ctx, 0, o.profile ? kiln_model.forward_profiled : kiln_model.forward,
                   o.profile, "forward", 0 };
        rc = o.selftest ? run_selftest(&e) : o.tokens ? run_logits(&o, &e) : run_generate(&o, &e, &tok);
    }
    if (o.profile) {
        if (rc == 0) rt_profile_report(stderr);
        int terr = 0;
        if (trace) {
            terr = rc == 0 ? rt_profile_write_trace(trace) : 0;
            if (fclose(trace) != 0 && !terr) terr = errno;
            if (terr && rc == 0) rc = fail("--profile: cannot write the trace '%s': %s", o.trace, strerror(terr));
        }
        rt_profile_stop();
    }
    if ((cerr = rt_capture_close()) && rc == 0) rc = fail("cannot write '%s': %s", o.capture, strerror(cerr));
    rt_pool_stop();
    if (arena) munmap(arena, (size_t)(kiln_model.arena_bytes ? kiln_model.arena_bytes : 64));
    if (w.map) munmap(w.map, w.map_len);
    free(tok_copy);
    free(o.stops);
    return rc;
}
