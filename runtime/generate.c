/* generate.c — the decoding loop and the samplers.
 *
 * As llama2.c: feed the prompt in one step (prefill), then one token per step, sampling
 * from the last logits. Greedy picks the arg-max (lowest id on ties); otherwise logits are
 * divided by the temperature, turned into probabilities, cut to the top k and then to the
 * smallest set whose mass reaches top_p, renormalized, and sampled with a xorshift64*
 * generator seeded by the user, so a seed reproduces a run. All scratch is allocated once,
 * before the loop. */
#include "runtime/runtime.h"

#include <math.h>
#include <stdlib.h>
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

/* Sorts order[0..n) by probs descending (insertion into a heap would be faster; the
 * vocabulary is sorted once per token, which is far below the model's cost). */
static const float *sort_probs;
static int by_prob_desc(const void *a, const void *b)
{
    float pa = sort_probs[*(const int32_t *)a], pb = sort_probs[*(const int32_t *)b];
    if (pa != pb) return pa < pb ? 1 : -1;
    return *(const int32_t *)a - *(const int32_t *)b;
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
        sort_probs = probs;
        qsort(order, (size_t)vocab, sizeof *order, by_prob_desc);
        if (s->top_k > 0 && s->top_k < n) n = s->top_k;
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

int rt_generate(const RtForward *f, const RtTokenizer *tok, const RtSampler *s, const int32_t *prompt,
                int n_prompt, int n_new, int32_t stop_id, FILE *out, int32_t *gen, RtGenStats *stats)
{
    float *logits = malloc((size_t)f->vocab * sizeof *logits);
    float *probs = malloc((size_t)f->vocab * sizeof *probs);
    int32_t *order = malloc((size_t)f->vocab * sizeof *order);
    int produced = -1;
    uint64_t rng = s->seed;
    if (!logits || !probs || !order) goto out;
    double t0 = now();
    if (f->step(f->ctx, prompt, n_prompt, logits)) goto out;
    double t1 = now();
    produced = 0;
    for (int i = 0; i < n_new; i++) {
        int32_t next = rt_sample(s, &rng, logits, f->vocab, probs, order);
        if (stop_id >= 0 && next == stop_id) break;
        if (gen) gen[i] = next;
        produced++;
        size_t len;
        const char *piece = tok ? rt_tok_decode_piece(tok, next, &len) : NULL;
        if (out && piece) {
            fwrite(piece, 1, len, out);
            fflush(out);
        }
        if (i + 1 < n_new && f->step(f->ctx, &next, 1, logits)) {
            produced = -1;
            break;
        }
    }
    if (stats) {
        stats->prompt_tokens = n_prompt;
        stats->new_tokens = produced > 0 ? produced : 0;
        stats->prefill_seconds = t1 - t0;
        stats->decode_seconds = now() - t1;
    }
out:
    free(logits);
    free(probs);
    free(order);
    return produced;
}
