/* test_beam.c — runtime/beam.c against exhaustive search, under the sanitizers.
 *
 * A toy model of VOCAB tokens whose logits are a fixed function of the hypothesis so far
 * (a hash of its tokens): no state, so the step callback only records each row's prefix
 * from its parent. With a width that keeps every prefix alive (VOCAB^max_len), beam search
 * walks the whole tree: its answer must be the exhaustive search's — the best of every
 * sequence ending in eos within max_len and every max_len sequence without one, by
 * sum of log-probabilities / length^alpha (the earliest in the beam's order on a tie is not
 * tested: ties do not occur with these logits). Width 1 must be greedy (argmax, lower id on
 * ties), computed here directly. At every width, the score returned is the one the answer's
 * ids give. Run under ASan and UBSan in the sanitizer build. */
#include "runtime/beam.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB 4
#define EOS 3
#define MAX_LEN 5
#define MAX_ROWS 1024

static int failures;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "PASS" : "FAIL", what);
    failures += !ok;
}

/* logits of the position after prefix[0..n) */
static void toy_logits(const int32_t *prefix, int n, float *out)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++) h = (h ^ (uint32_t)prefix[i]) * 16777619u;
    for (int t = 0; t < VOCAB; t++) {
        uint32_t x = (h ^ (uint32_t)(t * 0x9e3779b9u)) * 2654435761u;
        out[t] = (float)((x >> 8) % 1000) / 250.0f - 2.0f;     /* -2 .. 2 */
    }
}

typedef struct Toy {
    int32_t rows[MAX_ROWS][MAX_LEN], next[MAX_ROWS][MAX_LEN];
    int len[MAX_ROWS], next_len[MAX_ROWS];
    float logits[MAX_ROWS * VOCAB];
} Toy;

static int toy_step(void *ctx, const int32_t *parent, const int32_t *tokens, int n, const float **logits)
{
    Toy *t = ctx;
    if (n > MAX_ROWS) return -1;
    for (int i = 0; i < n; i++) {
        memcpy(t->next[i], t->rows[parent[i]], sizeof t->next[i]);
        t->next_len[i] = t->len[parent[i]] + 1;
        t->next[i][t->len[parent[i]]] = tokens[i];
    }
    for (int i = 0; i < n; i++) {
        memcpy(t->rows[i], t->next[i], sizeof t->rows[i]);
        t->len[i] = t->next_len[i];
        toy_logits(t->rows[i], t->len[i], t->logits + i * VOCAB);
    }
    *logits = t->logits;
    return 0;
}

static double logprob(const int32_t *prefix, int n, int32_t t)
{
    float x[VOCAB];
    toy_logits(prefix, n, x);
    double top = -INFINITY, s = 0;
    for (int v = 0; v < VOCAB; v++) top = x[v] > top ? x[v] : top;
    for (int v = 0; v < VOCAB; v++) s += exp((double)x[v] - top);
    return (double)x[t] - top - log(s);
}

/* the best normalized score over every sequence (exhaustive), into best/best_len */
static void exhaustive(int32_t *seq, int n, double sum, double alpha, double *best, int32_t *best_ids, int *best_len)
{
    if (n > 0 && (seq[n - 1] == EOS || n == MAX_LEN)) {
        double score = sum / pow((double)n, alpha);
        if (score > *best) {
            *best = score;
            memcpy(best_ids, seq, (size_t)n * sizeof *seq);
            *best_len = n;
        }
        return;
    }
    for (int32_t t = 0; t < VOCAB; t++) {
        seq[n] = t;
        exhaustive(seq, n + 1, sum + logprob(seq, n, t), alpha, best, best_ids, best_len);
    }
}

static int search(int width, double alpha, int32_t *out, int *n, double *score)
{
    static Toy toy;
    memset(&toy, 0, sizeof toy);
    RtBeamOptions o = { width, alpha, MAX_LEN, EOS };
    RtBeam *b = rt_beam_new(&o, VOCAB);
    if (!b) return -1;
    float first[VOCAB];
    toy_logits(NULL, 0, first);
    RtBeamModel m = { &toy, VOCAB, toy_step };
    int rc = rt_beam_search(b, &m, first, out, n, score);
    rt_beam_free(b);
    return rc;
}

int main(void)
{
    char what[256];
    for (int a = 0; a < 3; a++) {
        double alpha = (double[]){ 0.0, 0.6, 1.0 }[a];
        int32_t seq[MAX_LEN], want[MAX_LEN], got[MAX_LEN];
        int want_n = 0, got_n = 0;
        double best = -INFINITY, score = 0;
        exhaustive(seq, 0, 0, alpha, &best, want, &want_n);
        int rc = search(1024, alpha, got, &got_n, &score);     /* 4^5: every prefix stays live */
        snprintf(what, sizeof what, "alpha %.1f: a beam wide enough to keep everything finds the exhaustive best "
                 "(%d tokens, score %.6f)", alpha, want_n, best);
        check(rc == 0 && got_n == want_n && !memcmp(got, want, (size_t)want_n * sizeof *got) &&
              fabs(score - best) < 1e-9, what);
    }
    /* width 1 is greedy */
    int32_t greedy[MAX_LEN], got[MAX_LEN];
    int gn = 0, got_n = 0;
    double sum = 0, score = 0;
    while (gn < MAX_LEN) {
        float x[VOCAB];
        toy_logits(greedy, gn, x);
        int32_t t = 0;
        for (int v = 1; v < VOCAB; v++)
            if (x[v] > x[t]) t = v;
        sum += logprob(greedy, gn, t);
        greedy[gn++] = t;
        if (t == EOS) break;
    }
    int rc = search(1, 1.0, got, &got_n, &score);
    check(rc == 0 && got_n == gn && !memcmp(got, greedy, (size_t)gn * sizeof *got) && fabs(score - sum / gn) < 1e-9,
          "width 1 is greedy decoding, with its score");
    /* every width: the answer's score is what its ids give */
    for (int w = 1; w <= 6; w++) {
        rc = search(w, 0.6, got, &got_n, &score);
        double s = 0;
        for (int i = 0; i < got_n; i++) s += logprob(got, i, got[i]);
        snprintf(what, sizeof what, "width %d: %d tokens, the score is their sum / length^0.6", w, got_n);
        check(rc == 0 && got_n >= 1 && got_n <= MAX_LEN && fabs(score - s / pow(got_n, 0.6)) < 1e-9, what);
    }
    RtBeamOptions bad = { 0, 1.0, MAX_LEN, EOS };
    check(rt_beam_new(&bad, VOCAB) == NULL, "width 0 is refused");
    printf("%d failed\n", failures);
    return failures ? 1 : 0;
}
