/* bleu.c — corpus BLEU: clipped n-gram counts summed over sentence pairs (bleu.h).
 *
 * rt_bleu_add splits the hypothesis and the reference into tokens, kept as (pointer, length)
 * pairs into the caller's text in one scratch array (hypothesis tokens first, then the
 * reference's), which grows only when a longer pair arrives: adding a sentence allocates
 * nothing once the scratch is large enough. Clipping needs no table: for each n, each
 * distinct hypothesis n-gram is handled at its first occurrence i, where its count in the
 * hypothesis (from i on) and in the reference are taken by direct comparison, and
 * min(hyp count, ref count) is added. That is O(h * (h + r)) comparisons per n for
 * sentences of h and r tokens, nothing next to decoding them; sentences are short.
 * rt_bleu_score only divides, takes logs and the brevity penalty. */
#include "runtime/bleu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct RtBleuTok {
    const char *p;
    size_t n;
} Tok;

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Tokens of s[0..len); writes them to out when out is not NULL. Returns the count. */
static size_t split(const char *s, size_t len, Tok *out)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && is_space(s[i])) i++;
        if (i == len) break;
        size_t start = i;
        while (i < len && !is_space(s[i])) i++;
        if (out) out[n] = (Tok){ s + start, i - start };
        n++;
    }
    return n;
}

/* Are the n-grams a[0..n) and b[0..n) equal? */
static int gram_eq(const Tok *a, const Tok *b, int n)
{
    for (int k = 0; k < n; k++)
        if (a[k].n != b[k].n || memcmp(a[k].p, b[k].p, a[k].n) != 0) return 0;
    return 1;
}

/* Occurrences of the n-gram g among the n-grams of t[0..len). */
static int64_t gram_count(const Tok *g, const Tok *t, size_t len, int n)
{
    int64_t c = 0;
    for (size_t j = 0; j + n <= len; j++) c += gram_eq(g, t + j, n);
    return c;
}

void rt_bleu_init(RtBleu *b) { memset(b, 0, sizeof *b); }

void rt_bleu_free(RtBleu *b)
{
    free(b->tok);
    rt_bleu_init(b);
}

int rt_bleu_add_n(RtBleu *b, const char *hyp, size_t hyp_n, const char *ref, size_t ref_n)
{
    size_t h = split(hyp, hyp_n, NULL), r = split(ref, ref_n, NULL);
    if (h + r > b->tok_cap) {
        size_t cap = b->tok_cap ? b->tok_cap : 64;
        while (cap < h + r) cap *= 2;
        Tok *t = realloc(b->tok, cap * sizeof *t);
        if (!t) return -1;
        b->tok = t;
        b->tok_cap = cap;
    }
    Tok *H = b->tok, *R = b->tok + h;
    split(hyp, hyp_n, H);
    split(ref, ref_n, R);

    for (int n = 1; n <= RT_BLEU_N; n++) {
        if (h < (size_t)n) break;
        for (size_t i = 0; i + n <= h; i++) {
            size_t j = 0;                               /* seen before? then already counted */
            while (j < i && !gram_eq(H + j, H + i, n)) j++;
            if (j < i) continue;
            int64_t in_hyp = gram_count(H + i, H + i, h - i, n);
            int64_t in_ref = gram_count(H + i, R, r, n);
            b->matched[n - 1] += in_hyp < in_ref ? in_hyp : in_ref;
        }
        b->total[n - 1] += (int64_t)(h - n + 1);
    }
    b->hyp_len += (int64_t)h;
    b->ref_len += (int64_t)r;
    b->sentences++;
    return 0;
}

int rt_bleu_add(RtBleu *b, const char *hyp, const char *ref)
{
    return rt_bleu_add_n(b, hyp, strlen(hyp), ref, strlen(ref));
}

void rt_bleu_score(const RtBleu *b, RtBleuScore *out)
{
    double c = (double)b->hyp_len, r = (double)b->ref_len;
    double log_sum = 0.0;
    int zero = 0;
    for (int n = 0; n < RT_BLEU_N; n++) {
        double p = b->total[n] > 0 ? (double)b->matched[n] / (double)b->total[n] : 0.0;
        out->precision[n] = p;
        if (p > 0.0)
            log_sum += log(p);
        else
            zero = 1;
    }
    if (c > r)
        out->brevity_penalty = 1.0;
    else if (c > 0)
        out->brevity_penalty = exp(1.0 - r / c);
    else
        out->brevity_penalty = r > 0 ? 0.0 : 1.0;
    out->bleu = zero ? 0.0 : out->brevity_penalty * exp(log_sum / RT_BLEU_N);
    out->hyp_len = b->hyp_len;
    out->ref_len = b->ref_len;
}
