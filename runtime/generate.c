/* generate.c — the decoding loop and the samplers.
 *
 * As llama2.c: feed the prompt in one step (prefill), then one token per step, sampling
 * from the last logits. Before sampling, the logits of tokens seen in the last
 * repeat_last_n positions may be penalized (llama.cpp's repetition penalty). Greedy picks
 * the arg-max (lowest id on ties); otherwise logits are divided by the temperature, turned
 * into probabilities, cut to the top k and then to the smallest set whose mass reaches
 * top_p, renormalized, and sampled with a xorshift64* generator seeded by the user, so a
 * seed reproduces a run. The candidates are ordered by an in-place heap (probability
 * descending, id ascending), not qsort: glibc's qsort mallocs its merge buffer.
 *
 * Text goes out through two filters, both working on a few bytes held between tokens:
 *   utf8_sanitize  token bytes -> valid UTF-8 (an incomplete character waits for the next
 *                  token; maximal invalid subparts become U+FFFD, as WHATWG decoders do)
 *   emit           valid UTF-8 -> out, holding back the longest tail that is a proper
 *                  prefix of a stop string; a complete stop string ends generation.
 * Every buffer (logits, probabilities, order, recent tokens, text) is carved from one
 * allocation made before the prefill; the loop allocates nothing.
 *
 * Two things from outside end the loop between tokens, after the text so far is out:
 * rt_interrupted (SIGINT, runtime/signals.c: RT_STOP_INTERRUPT) and a write to out that
 * failed (a closed pipe with SIGPIPE ignored: RT_STOP_OUTPUT; the caller sees ferror(out)).
 * With SIGPIPE at its default the process ends at that write, as cat and head do. */
#include "runtime/runtime.h"
#include "runtime/signals.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static float random_unit(uint64_t *state)      /* [0, 1) */
{
    return (float)(next_random(state) >> 40) / 16777216.0f;
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* ---- ordering candidates ------------------------------------------------------ */

/* Whether token a ranks before token b: higher probability, then lower id. */
static int ranks_before(const float *probs, int32_t a, int32_t b)
{
    return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
}

/* A heap whose root is the candidate ranking last. */
static void sift_down(int32_t *h, int n, int i, const float *probs)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, worst = i;
        if (l < n && ranks_before(probs, h[worst], h[l])) worst = l;
        if (r < n && ranks_before(probs, h[worst], h[r])) worst = r;
        if (worst == i) return;
        int32_t t = h[i];
        h[i] = h[worst];
        h[worst] = t;
        i = worst;
    }
}

/* Moves the k best of order[0..n) to order[0..k), best first. O(n log k), in place. */
static void select_best(int32_t *order, int n, int k, const float *probs)
{
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(order, k, i, probs);
    for (int i = k; i < n; i++)
        if (ranks_before(probs, order[i], order[0])) {
            order[0] = order[i];
            sift_down(order, k, 0, probs);
        }
    for (int end = k - 1; end > 0; end--) {     /* pop the worst to the back */
        int32_t t = order[0];
        order[0] = order[end];
        order[end] = t;
        sift_down(order, end, 0, probs);
    }
}

int rt_sample(const RtSampler *s, uint64_t *rng, float *logits, int vocab, float *probs, int32_t *order)
{
    if (s->temperature <= 0) return argmax(logits, vocab);
    float max = logits[argmax(logits, vocab)];
    double sum = 0;
    for (int i = 0; i < vocab; i++) {
        probs[i] = expf((logits[i] - max) / s->temperature);
        sum += probs[i];
    }
    for (int i = 0; i < vocab; i++) {
        probs[i] = (float)(probs[i] / sum);
        order[i] = i;
    }
    int n = vocab;
    if ((s->top_k > 0 && s->top_k < vocab) || s->top_p < 1) {
        if (s->top_k > 0 && s->top_k < n) n = s->top_k;
        select_best(order, vocab, n, probs);
        if (s->top_p < 1) {
            double mass = 0;
            for (int i = 0; i < n; i++) {
                mass += probs[order[i]];
                if (mass >= s->top_p) {
                    n = i + 1;
                    break;
                }
            }
        }
    }
    double total = 0;
    for (int i = 0; i < n; i++) total += probs[order[i]];
    double r = random_unit(rng) * total, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += probs[order[i]];
        if (r < acc) return order[i];
    }
    return order[n - 1];
}

void rt_repeat_penalty(float *logits, int vocab, const int32_t *recent, int n, float penalty)
{
    if (penalty == 1 || penalty <= 0) return;
    for (int i = 0; i < n; i++) {
        int32_t t = recent[i];
        if (t < 0 || t >= vocab) continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = recent[j] == t;
        if (seen) continue;     /* once per distinct token */
        logits[t] = logits[t] > 0 ? logits[t] / penalty : logits[t] * penalty;
    }
}

/* ---- text out ---------------------------------------------------------------------- */

static const char replacement[] = "\xEF\xBF\xBD";   /* U+FFFD */

/* Appends to dst the valid UTF-8 of w[0..n): complete characters are copied, a maximal
 * invalid subpart becomes U+FFFD, and an incomplete character at the end is moved to
 * pend (at most 3 bytes; *np its length) unless final, when it becomes U+FFFD as well.
 * Writes at most 3 bytes per byte of w. Returns the bytes written. */
static size_t utf8_sanitize(const uint8_t *w, size_t n, int final, uint8_t *pend, int *np, char *dst)
{
    size_t i = 0, o = 0;
    *np = 0;
    while (i < n) {
        uint8_t b = w[i];
        if (b < 0x80) {
            dst[o++] = (char)b;
            i++;
            continue;
        }
        int need;
        uint8_t lo = 0x80, hi = 0xBF;       /* the range of the second byte */
        if (b >= 0xC2 && b <= 0xDF) need = 1;
        else if (b >= 0xE0 && b <= 0xEF) need = 2, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
        else if (b >= 0xF0 && b <= 0xF4) need = 3, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
        else need = 0;                      /* 80..C1, F5..FF never start a character */
        int k = 1;
        if (need) {
            for (; k <= need; k++) {
                if (i + (size_t)k >= n) {   /* the character continues in the next token */
                    if (final) break;
                    *np = (int)(n - i);
                    memcpy(pend, w + i, n - i);
                    return o;
                }
                uint8_t c = w[i + (size_t)k];
                if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
            }
        }
        if (need && k > need) {
            memcpy(dst + o, w + i, (size_t)k);
            o += (size_t)k;
        } else {
            memcpy(dst + o, replacement, 3);
            o += 3;
        }
        i += (size_t)k;
    }
    return o;
}

/* Valid UTF-8 on its way out, with the tail that may start a stop string held back. */
typedef struct TextOut {
    FILE *out;
    const char *const *stops;
    const size_t *stop_len;
    int n_stops;
    char *held;             /* (held_cap) text not yet written */
    size_t n_held;
    uint8_t pend[4];        /* an incomplete character's bytes */
    int n_pend;
    uint8_t *work;          /* pend + one token's bytes */
    char *clean;            /* utf8_sanitize's output */
    int failed;             /* a write to out failed: nothing more is written */
} TextOut;

static void write_text(TextOut *t, const char *s, size_t n)
{
    if (t->out && n && !t->failed)
        t->failed = fwrite(s, 1, n, t->out) != n || fflush(t->out) != 0;
}

/* Adds valid UTF-8 text; returns the index of the stop string it completes, or -1. */
static int emit(TextOut *t, const char *s, size_t n)
{
    if (!t->n_stops) {
        write_text(t, s, n);
        return -1;
    }
    memcpy(t->held + t->n_held, s, n);
    t->n_held += n;
    size_t first = SIZE_MAX;
    int which = -1;
    for (int i = 0; i < t->n_stops; i++) {
        const char *at = memmem(t->held, t->n_held, t->stops[i], t->stop_len[i]);
        if (at && (size_t)(at - t->held) < first) {
            first = (size_t)(at - t->held);
            which = i;
        }
    }
    if (which >= 0) {
        write_text(t, t->held, first);
        t->n_held = 0;
        return which;
    }
    size_t keep = 0;        /* the longest tail that is a proper prefix of a stop string */
    for (int i = 0; i < t->n_stops; i++) {
        size_t k = t->stop_len[i] - 1 < t->n_held ? t->stop_len[i] - 1 : t->n_held;
        for (; k > keep; k--)
            if (!memcmp(t->held + t->n_held - k, t->stops[i], k)) {
                keep = k;
                break;
            }
    }
    write_text(t, t->held, t->n_held - keep);
    memmove(t->held, t->held + t->n_held - keep, keep);
    t->n_held = keep;
    return -1;
}

/* A token's bytes (final: none, the end of the text). Returns as emit. */
static int emit_bytes(TextOut *t, const char *bytes, size_t n, int final)
{
    size_t m = (size_t)t->n_pend;
    memcpy(t->work, t->pend, m);
    memcpy(t->work + m, bytes, n);
    size_t c = utf8_sanitize(t->work, m + n, final, t->pend, &t->n_pend, t->clean);
    int hit = emit(t, t->clean, c);
    if (final && hit < 0) {
        write_text(t, t->held, t->n_held);
        t->n_held = 0;
    }
    return hit;
}

/* ---- the loop ------------------------------------------------------------------------- *
 * Stats: the prefill step and every later step are timed alone (RtGenStats), so decode
 * speed is forward calls per second, not counting sampling and text. */

static size_t round_up(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

int rt_generate(const RtForward *f, const RtTokenizer *tok, const RtSampler *s, const RtGenOptions *o,
                const int32_t *prompt, int n_prompt, FILE *out, int32_t *gen, RtGenStats *stats)
{
    int vocab = f->vocab, last_n = o->repeat_last_n > 0 ? o->repeat_last_n : RT_REPEAT_LAST_N;
    int n_stops = tok ? o->n_stops : 0;
    size_t max_stop = 0, piece = tok ? tok->max_piece_len : 0;
    for (int i = 0; i < n_stops; i++) {
        size_t n = strlen(o->stops[i]);
        if (n > max_stop) max_stop = n;
    }
    /* one block: logits, probs (vocab floats each), order (vocab), recent (last_n),
     * stop lengths, work (3 + piece), clean (3 per work byte), held (max_stop + clean) */
    size_t clean_cap = 3 * (piece + 3);
    size_t sz_vec = round_up((size_t)vocab * 4), sz_recent = round_up((size_t)last_n * 4);
    size_t sz_len = round_up((size_t)n_stops * sizeof(size_t)), sz_work = round_up(piece + 4);
    size_t sz_clean = round_up(clean_cap), sz_held = round_up(max_stop + clean_cap);
    char *block = malloc(3 * sz_vec + sz_recent + sz_len + sz_work + sz_clean + sz_held);
    if (!block) {
        fputs("error: out of memory for the generation loop's scratch\n", stderr);
        return -1;
    }
    float *logits = (float *)block, *probs = (float *)(block + sz_vec);
    int32_t *order = (int32_t *)(block + 2 * sz_vec), *recent = (int32_t *)(block + 3 * sz_vec);
    size_t *stop_len = (size_t *)(block + 3 * sz_vec + sz_recent);
    char *p = block + 3 * sz_vec + sz_recent + sz_len;
    TextOut text = { out, o->stops, stop_len, n_stops, p + sz_work + sz_clean, 0, { 0 }, 0, (uint8_t *)p, p + sz_work, 0 };
    for (int i = 0; i < n_stops; i++) stop_len[i] = strlen(o->stops[i]);

    /* the last last_n tokens, a ring: recent[(head + i) % last_n] */
    int n_recent = 0, head = 0;
    for (int i = n_prompt > last_n ? n_prompt - last_n : 0; i < n_prompt; i++) recent[n_recent++] = prompt[i];

    /* tokens that may be produced: the last one needs no position (it is never fed) */
    int room = f->max_positions > 0 ? f->max_positions - n_prompt + 1 : INT_MAX;
    int produced = 0, stop = RT_STOP_LENGTH, stop_index = -1;
    int32_t prev = n_prompt > 0 ? prompt[n_prompt - 1] : -1;    /* the token before the next one printed */
    uint64_t rng = s->seed;
    double t0 = now();
    int bad = f->step(f->ctx, prompt, n_prompt, logits);
    double t1 = now(), step_seconds = 0;
    int fed = 0;        /* tokens fed after the prompt */
    while (!bad) {
        if (rt_interrupted) {
            stop = RT_STOP_INTERRUPT;
            break;
        }
        if (produced >= o->n_new) break;
        if (produced >= room) {
            stop = RT_STOP_CONTEXT;
            break;
        }
        rt_repeat_penalty(logits, vocab, recent, n_recent, o->repeat_penalty);
        int32_t next = rt_sample(s, &rng, logits, vocab, probs, order);
        if (o->eos_id >= 0 && next == o->eos_id) {
            stop = RT_STOP_EOS;
            break;
        }
        if (gen) gen[produced] = next;
        produced++;
        if (n_recent < last_n) recent[n_recent++] = next;
        else {
            recent[head] = next;
            head = (head + 1) % last_n;
        }
        size_t len;
        const char *bytes = tok ? rt_tok_decode_next(tok, prev, next, &len) : NULL;
        prev = next;
        if (bytes && (stop_index = emit_bytes(&text, bytes, len, 0)) >= 0) {
            stop = RT_STOP_STRING;
            break;
        }
        if (text.failed) {
            stop = RT_STOP_OUTPUT;
            break;
        }
        if (produced < o->n_new && produced < room) {
            double ts = now();
            bad = f->step(f->ctx, &next, 1, logits);
            step_seconds += now() - ts;
            fed++;
        }
    }
    if (bad) stop = RT_STOP_ERROR;
    else if (stop != RT_STOP_STRING && tok) emit_bytes(&text, "", 0, 1);
    if (stats) {
        stats->prompt_tokens = n_prompt;
        stats->new_tokens = produced;
        stats->prefill_seconds = t1 - t0;
        stats->decode_seconds = now() - t1;
        stats->decode_tokens = fed;
        stats->decode_step_seconds = step_seconds;
        stats->stop = stop;
        stats->stop_index = stop_index;
    }
    free(block);
    return bad ? -1 : produced;
}

void rt_print_speeds(FILE *f, const RtGenStats *st)
{
    double pre = st->prefill_seconds, dec = st->decode_step_seconds;
    fprintf(f, "prefill: %.1f tok/s (%d tokens in %.3f s)\n", pre > 0 ? st->prompt_tokens / pre : 0.0,
            st->prompt_tokens, pre);
    fprintf(f, "decode: %.1f tok/s (%d tokens in %.3f s)\n", dec > 0 && st->decode_tokens ? st->decode_tokens / dec : 0.0,
            st->decode_tokens, dec);
}
