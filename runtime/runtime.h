/* runtime.h — what a produced executable contains besides its kernels: tokenizers,
 * samplers, the generation loop and the executable's command line (main.c). `kiln run`
 * links the same code (without main.c) and plugs the reference interpreter in as the
 * forward function, so both behave alike.
 *
 * The runtime depends on libc, libm and pthreads only, and allocates nothing inside the
 * decode loop: rt_generate takes all its scratch in one allocation before the loop, and the
 * thread pool (threads.c) is made at start-up. */
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include <stdint.h>
#include <stdio.h>

#include "runtime/tokenizer.h"

/* The model, seen from the generation loop: feed n new tokens (batch 1), get the logits
 * of the last one. The forward function owns the KV cache and its position. */
typedef struct RtForward {
    void *ctx;
    int (*step)(void *ctx, const int32_t *tokens, int n, float *logits);   /* 0 = ok */
    int vocab;              /* logits per position */
    int max_positions;      /* context length: positions fed (prompt + new tokens but the last);
                             * <= 0: no bound */
} RtForward;

typedef struct RtSampler {
    float temperature;      /* 0 = greedy */
    int top_k;              /* 0 = off */
    float top_p;            /* 1 = off */
    uint64_t seed;
} RtSampler;

/* Picks the next token from logits (vocab). probs and order are scratch of vocab entries
 * each. Allocates nothing. */
int rt_sample(const RtSampler *s, uint64_t *rng, float *logits, int vocab, float *probs, int32_t *order);

#define RT_REPEAT_LAST_N 64     /* tokens the repetition penalty looks back on (llama.cpp's default) */

/* Penalizes the logits of every distinct token of recent[0..n) (llama.cpp's rule): a
 * positive logit is divided by penalty, a negative one multiplied by it. Ids outside
 * 0..vocab-1 are ignored. penalty 1 leaves the logits alone. */
void rt_repeat_penalty(float *logits, int vocab, const int32_t *recent, int n, float penalty);

typedef struct RtGenOptions {
    int n_new;                  /* most tokens to generate (>= 0) */
    int32_t eos_id;             /* sampling it ends generation (it is not output); -1: none */
    float repeat_penalty;       /* 1 (or 0) = off, see rt_repeat_penalty */
    int repeat_last_n;          /* tokens (prompt included) it looks back on; 0 = RT_REPEAT_LAST_N */
    const char *const *stops;   /* stop strings, UTF-8, non-empty (n_stops of them) */
    int n_stops;
} RtGenOptions;

/* Why generation ended. */
enum RtStop {
    RT_STOP_LENGTH,             /* n_new tokens were generated */
    RT_STOP_EOS,                /* the model produced eos_id */
    RT_STOP_STRING,             /* the generated text reached a stop string */
    RT_STOP_CONTEXT,            /* the tokens fed filled max_positions */
    RT_STOP_ERROR,              /* the forward function failed */
    RT_STOP_INTERRUPT,          /* SIGINT (rt_interrupted, runtime/signals.h) */
    RT_STOP_OUTPUT,             /* writing the text failed (a closed pipe, SIGPIPE ignored) */
};

typedef struct RtGenStats {
    int prompt_tokens, new_tokens;
    double prefill_seconds;     /* the step that fed the prompt */
    double decode_seconds;      /* from there to the end: steps, sampling, text */
    int decode_tokens;          /* tokens fed after the prompt, one step each */
    double decode_step_seconds; /* the time of those steps alone */
    int stop;                   /* enum RtStop */
    int stop_index;             /* RT_STOP_STRING: which of o->stops */
} RtGenStats;

/* The speed lines of --stats, the same for the executable and `kiln run`:
 *   prefill: 123.4 tok/s (11 tokens in 0.089 s)
 *   decode: 123.4 tok/s (80 tokens in 0.650 s)
 * prefill counts the prompt's tokens over the time of the step that fed them; decode counts
 * the tokens fed after the prompt — one forward step each: every generated token but the
 * last, which is sampled and never fed — over the time of those steps alone (sampling and
 * printing excluded). 0 tokens print 0.0 tok/s. */
void rt_print_speeds(FILE *f, const RtGenStats *st);

/* Feeds the prompt (n_prompt >= 1) in one step, then generates tokens one step at a time
 * until one of enum RtStop happens. Every token fed takes a position: the prompt and every
 * generated token but the last, which is sampled from the logits of the last position and
 * never fed. So with f->max_positions = C (when > 0) a prompt of n_prompt <= C tokens is
 * followed by at most C - n_prompt + 1 new ones (llama2.c's `-n steps` counts the same way:
 * steps = positions fed, each giving one token).
 *
 * A Ctrl-C caught by rt_catch_interrupt (runtime/signals.h) or a failed write to out ends
 * the loop too, after the token being written, with the text so far written whole.
 *
 * Text: each token's bytes (tok may be NULL: no text) are written to out (may be NULL) as
 * soon as they are known, as valid UTF-8: a character split across tokens is held back
 * until complete, and bytes that cannot form a character become U+FFFD (also an
 * incomplete character at the end). Text that may be the start of a stop string is held
 * back too; a stop string and whatever follows it in its token are not written.
 * The generated ids go to gen (o->n_new entries) when it is not NULL; an eos is not among
 * them. Returns the count generated, or -1 when the forward function failed (it reports
 * why) or the scratch could not be allocated (reported here on stderr). Allocates once,
 * before the first step. */
int rt_generate(const RtForward *f, const RtTokenizer *tok, const RtSampler *s, const RtGenOptions *o,
                const int32_t *prompt, int n_prompt, FILE *out, int32_t *gen, RtGenStats *stats);

/* ---- threads (runtime/threads.c) ------------------------------------------------------------
 * The pool behind kiln_parallel (runtime/model.h). It is made once, before the first
 * forward call, and its threads live until rt_pool_stop; nothing is allocated per job. */

#define RT_MAX_THREADS 64

/* Makes the pool threads wide (1..RT_MAX_THREADS; 1: no worker threads, every kernel runs
 * on the caller). Returns 0, or an errno value (the pool is then 1 wide). */
int rt_pool_start(int threads);
/* Measures a default and makes the pool that wide: all the CPUs this process may use when a
 * compute probe runs at least 1.3x faster on them than on one, else 1. *tried gets that
 * CPU count and *speedup the measured ratio (1 when there was nothing to measure: one CPU).
 * Returns the threads chosen. Takes about 3 ms. */
int rt_pool_start_default(int *tried, double *speedup);
/* Wakes the workers if they sleep, so that they are spinning when the next jobs come: jobs
 * too small to pay for a wake-up (~25 us in a VM) never wake a worker themselves. Call it
 * before a burst of forward calls; a worker goes back to sleep after ~50 us without jobs. */
void rt_pool_wake(void);
/* Ends the worker threads (the pool is then 1 wide). */
void rt_pool_stop(void);
int rt_pool_threads(void);
/* Overrides the dispatch threshold kiln_parallel_min_work (while the pool is 2 or more wide;
 * a smaller value splits more kernels, 1 splits every one). For measurements and tests. */
void rt_pool_set_min_work(int64_t min_work);

/* The identity check of a weights blob, stored in kiln_model.weights_check by the compiler
 * and verified by the runtime against a side weights file: FNV-1a 64 (offset basis
 * 0xcbf29ce484222325, prime 0x100000001b3) over, in this order, the first min(n, 4096)
 * bytes of the blob, the last min(n, 4096) bytes (the two ranges overlap when n < 8192;
 * the bytes are then hashed twice), and n as 8 little-endian bytes. It tells a foreign or
 * truncated file from the right one cheaply (two pages); it does not prove integrity. */
static inline uint64_t rt_weights_check(const void *p, uint64_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull, k = n < 4096 ? n : 4096;
    for (uint64_t i = 0; i < k; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    for (uint64_t i = n - k; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    for (int i = 0; i < 8; i++) h = (h ^ ((n >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    return h;
}

/* The hash of a whole weights blob, for --verify-weights (stored in kiln_model.weights_hash):
 * FNV-1a 64 over the blob's little-endian 64-bit words (the last n % 8 bytes one by one),
 * then n as above. Word-wise so that 500 MB take a fraction of a second. */
static inline uint64_t rt_weights_hash(const void *p, uint64_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (int k = 0; k < 8; k++) w |= (uint64_t)b[i + k] << (8 * k);
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    for (int k = 0; k < 8; k++) h = (h ^ ((n >> (8 * k)) & 0xff)) * 0x100000001b3ull;
    return h;
}

#endif
