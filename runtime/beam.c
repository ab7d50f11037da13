/* beam.c — the beam search of beam.h, with all its memory allocated up front.
 *
 * Hypotheses are rows of ids (max_len each): the live ones (at most N), the next step's
 * (at most N) and the finished ones (at most 3N: fewer than N before the last step, then at
 * most 2N more from its candidates, or the N live ones at max_len). The 2N best candidates
 * are kept in a sorted array by insertion while scanning every (hypothesis, token): O(N ·
 * vocab · log N) per step, no sort of the whole vocabulary. Log-softmax in double from the
 * float logits: log p = x - (max + log sum exp(x - max)). */
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
    Hyp *live, *next, *done;    /* (N), (N), (3N) */
    int n_live, n_next, n_done;
    Cand *cand;                 /* (2N) */
    int32_t *parent, *tokens;   /* (N) */
    double *lse;                /* (N) */
    int32_t *ids;               /* (5N, max_len): every hypothesis's row */
};

RtBeam *rt_beam_new(const RtBeamOptions *o, int vocab)
{
    if (o->width < 1 || o->max_len < 1 || vocab < 1 || o->width > (1 << 20) || o->max_len > (1 << 24)) return NULL;
    RtBeam *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    size_t n = (size_t)o->width, rows = 5 * n;
    b->o = *o;
    b->vocab = vocab;
    b->live = calloc(n, sizeof *b->live);
    b->next = calloc(n, sizeof *b->next);
    b->done = calloc(3 * n, sizeof *b->done);
    b->cand = calloc(2 * n, sizeof *b->cand);
    b->parent = calloc(n, sizeof *b->parent);
    b->tokens = calloc(n, sizeof *b->tokens);
    b->lse = calloc(n, sizeof *b->lse);
    b->ids = rows <= SIZE_MAX / (size_t)o->max_len / 4 ? calloc(rows * (size_t)o->max_len, 4) : NULL;
    if (!b->live || !b->next || !b->done || !b->cand || !b->parent || !b->tokens || !b->lse || !b->ids) {
        rt_beam_free(b);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        b->live[i].ids = b->ids + i * (size_t)o->max_len;
        b->next[i].ids = b->ids + (n + i) * (size_t)o->max_len;
    }
    for (size_t i = 0; i < 3 * n; i++) b->done[i].ids = b->ids + (2 * n + i) * (size_t)o->max_len;
    return b;
}

void rt_beam_free(RtBeam *b)
{
    if (!b) return;
    free(b->live), free(b->next), free(b->done), free(b->cand);
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

/* Adds ids[0..len) with the sum of log-probabilities sum to the finished hypotheses. */
static void finish(RtBeam *b, const int32_t *ids, int len, double sum)
{
    Hyp *d = &b->done[b->n_done++];
    if (ids != d->ids) memcpy(d->ids, ids, (size_t)len * sizeof *ids);
    d->len = len;
    d->sum = sum / pow((double)len, b->o.alpha);
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
                Hyp *d = &b->done[b->n_done];
                memcpy(d->ids, h->ids, (size_t)h->len * sizeof *h->ids);
                d->ids[h->len] = c->token;
                finish(b, d->ids, h->len + 1, c->score);
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
        if (b->n_done >= N) {
            stopped = 1;
            break;
        }
        if (step + 1 < b->o.max_len && b->n_live > 0 && m->step(m->ctx, b->parent, b->tokens, b->n_live, &x) != 0)
            return -1;
    }
    if (!stopped)
        for (int h = 0; h < b->n_live; h++) finish(b, b->live[h].ids, b->live[h].len, b->live[h].sum);
    int best = 0;
    for (int i = 1; i < b->n_done; i++)
        if (b->done[i].sum > b->done[best].sum) best = i;
    if (b->n_done == 0) {
        *n_out = 0;
        *score = 0;
        return 0;
    }
    memcpy(out, b->done[best].ids, (size_t)b->done[best].len * sizeof *out);
    *n_out = b->done[best].len;
    *score = b->done[best].sum;
    return 0;
}
