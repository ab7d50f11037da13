/* beam.c — the beam search of beam.h, with all its memory allocated up front.
 *
 * Hypotheses are rows of ids (max_len each): the live ones (at most N) and the next step's
 * (at most N). Of the finished ones only the count and the best are kept (the stop rule and
 * the answer need no more): a finished candidate is built in a spare row and swapped with the
 * best when it scores strictly higher, so the earliest wins a tie. The 2N best candidates are
 * kept in a sorted array by insertion while scanning every (hypothesis, token): O(N · vocab ·
 * log N) per step, no sort of the whole vocabulary. Log-softmax in double from the float
 * logits: log p = x - (max + log sum exp(x - max)). */
#include "runtime/beam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Hyp {
    int32_t *ids;
    int len;
    double sum;                 /* sum of log-probabilities (live), normalized score (finished) */
} Hyp;

typedef struct Cand {
    double score;
    int hyp;
    int32_t token;
} Cand;

struct RtBeam {
    RtBeamOptions o;
    int vocab;
    Hyp *live, *next;           /* (N), (N) */
    Hyp best, spare;            /* the best finished hypothesis, and a row to build one in */
    int n_live, n_next, n_done; /* n_done: finished so far */
    Cand *cand;                 /* (2N) */
    int32_t *parent, *tokens;   /* (N) */
    double *lse;                /* (N) */
    int32_t *ids;               /* (2N + 2, max_len): every hypothesis's row */
};

RtBeam *rt_beam_new(const RtBeamOptions *o, int vocab)
{
    if (o->width < 1 || o->max_len < 1 || vocab < 1 || o->width > (1 << 20) || o->max_len > (1 << 24)) return NULL;
    RtBeam *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    size_t n = (size_t)o->width, rows = 2 * n + 2;
    b->o = *o;
    b->vocab = vocab;
    b->live = calloc(n, sizeof *b->live);
    b->next = calloc(n, sizeof *b->next);
    b->cand = calloc(2 * n, sizeof *b->cand);
    b->parent = calloc(n, sizeof *b->parent);
    b->tokens = calloc(n, sizeof *b->tokens);
    b->lse = calloc(n, sizeof *b->lse);
    b->ids = rows <= SIZE_MAX / (size_t)o->max_len / 4 ? calloc(rows * (size_t)o->max_len, 4) : NULL;
    if (!b->live || !b->next || !b->cand || !b->parent || !b->tokens || !b->lse || !b->ids) {
        rt_beam_free(b);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        b->live[i].ids = b->ids + i * (size_t)o->max_len;
        b->next[i].ids = b->ids + (n + i) * (size_t)o->max_len;
    }
    b->best.ids = b->ids + 2 * n * (size_t)o->max_len;
    b->spare.ids = b->ids + (2 * n + 1) * (size_t)o->max_len;
    return b;
}

void rt_beam_free(RtBeam *b)
{
    if (!b) return;
    free(b->live), free(b->next), free(b->cand);
    free(b->parent), free(b->tokens), free(b->lse), free(b->ids);
    free(b);
}

/* a before b: a higher score, then the earlier hypothesis, then the lower token */
static int cand_before(const Cand *a, const Cand *b)
{
    if (a->score != b->score) return a->score > b->score;
    if (a->hyp != b->hyp) return a->hyp < b->hyp;
    return a->token < b->token;
}

/* The 2N best candidates of the live hypotheses whose logits are rows of x; returns their count. */
static int best_candidates(RtBeam *b, const float *x)
{
    int keep = 2 * b->o.width, n = 0;
    for (int h = 0; h < b->n_live; h++) {
        const float *row = x + (size_t)h * (size_t)b->vocab;
        double top = -INFINITY, sum = 0;
        for (int t = 0; t < b->vocab; t++) top = row[t] > top ? row[t] : top;
        for (int t = 0; t < b->vocab; t++) sum += exp((double)row[t] - top);
        b->lse[h] = top + log(sum);
        for (int t = 0; t < b->vocab; t++) {
            Cand c = { b->live[h].sum + (double)row[t] - b->lse[h], h, t };
            if (n == keep && !cand_before(&c, &b->cand[n - 1])) continue;
            int i = n < keep ? n++ : n - 1;
            while (i > 0 && cand_before(&c, &b->cand[i - 1])) {
                b->cand[i] = b->cand[i - 1];
                i--;
            }
            b->cand[i] = c;
        }
    }
    return n;
}

/* Counts a finished hypothesis: the spare row's len ids with the sum of log-probabilities
 * sum; it becomes the best when it beats it. */
static void finish(RtBeam *b, int len, double sum)
{
    double score = sum / pow((double)len, b->o.alpha);
    b->spare.len = len;
    b->spare.sum = score;
    if (b->n_done++ == 0 || score > b->best.sum) {
        Hyp t = b->best;
        b->best = b->spare;
        b->spare = t;
    }
}

/* The best finished score is at least the best a live hypothesis could still reach: its
 * sum (which only falls) over max_len^alpha. */
static int done_beats_live(const RtBeam *b)
{
    double live = -INFINITY;
    for (int h = 0; h < b->n_live; h++) live = b->live[h].sum > live ? b->live[h].sum : live;
    return b->n_live == 0 || b->best.sum >= live / pow((double)b->o.max_len, b->o.alpha);
}

int rt_beam_search(RtBeam *b, const RtBeamModel *m, const float *first, int32_t *out, int *n_out, double *score)
{
    int N = b->o.width;
    b->n_live = 1;
    b->live[0].len = 0;
    b->live[0].sum = 0;
    b->n_done = 0;
    const float *x = first;
    int stopped = 0;
    for (int step = 0; step < b->o.max_len && b->n_live > 0; step++) {
        int nc = best_candidates(b, x);
        b->n_next = 0;
        for (int i = 0; i < nc && b->n_next < N; i++) {
            const Cand *c = &b->cand[i];
            const Hyp *h = &b->live[c->hyp];
            if (c->token == b->o.eos) {
                memcpy(b->spare.ids, h->ids, (size_t)h->len * sizeof *h->ids);
                b->spare.ids[h->len] = c->token;
                finish(b, h->len + 1, c->score);
                continue;
            }
            Hyp *y = &b->next[b->n_next];
            memcpy(y->ids, h->ids, (size_t)h->len * sizeof *h->ids);
            y->ids[h->len] = c->token;
            y->len = h->len + 1;
            y->sum = c->score;
            b->parent[b->n_next] = c->hyp;
            b->tokens[b->n_next] = c->token;
            b->n_next++;
        }
        Hyp *t = b->live;           /* the next hypotheses become the live ones */
        b->live = b->next;
        b->next = t;
        b->n_live = b->n_next;
        if (b->n_done >= N && (N == 1 || done_beats_live(b))) {     /* width 1: greedy, done at eos */
            stopped = 1;
            break;
        }
        if (step + 1 < b->o.max_len && b->n_live > 0 && m->step(m->ctx, b->parent, b->tokens, b->n_live, &x) != 0)
            return -1;
    }
    for (int h = 0; !stopped && h < b->n_live; h++) {
        memcpy(b->spare.ids, b->live[h].ids, (size_t)b->live[h].len * sizeof *b->spare.ids);
        finish(b, b->live[h].len, b->live[h].sum);
    }
    *n_out = b->n_done ? b->best.len : 0;
    *score = b->n_done ? b->best.sum : 0;
    if (b->n_done) memcpy(out, b->best.ids, (size_t)b->best.len * sizeof *out);
    return 0;
}
