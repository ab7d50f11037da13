/* bleu.h — corpus BLEU (Papineni et al. 2002) for a translating executable's `--bleu REF`.
 *
 * Sentences are split at whitespace (space, tab, newline, carriage return, vertical tab,
 * form feed); tokens are compared byte for byte. For n = 1..4 the accumulator sums, over
 * the corpus, the hypothesis n-grams and the matched ones, each distinct n-gram counting at
 * most as often as it occurs in the sentence's one reference (clipping). Then
 *
 *     p_n  = matched_n / total_n                          (0 when total_n = 0)
 *     BP   = 1 if c > r, exp(1 - r/c) if 0 < c <= r, 0 if c = 0 < r, 1 if c = r = 0
 *     BLEU = BP * exp((log p_1 + log p_2 + log p_3 + log p_4) / 4), or 0 if some p_n = 0
 *
 * with c and r the hypothesis and reference lengths in tokens, summed over the corpus. No
 * smoothing. The score is a fraction in 0..1 (multiply by 100 for the usual figure). */
#ifndef KILN_RUNTIME_BLEU_H
#define KILN_RUNTIME_BLEU_H

#include <stddef.h>
#include <stdint.h>

#define RT_BLEU_N 4     /* longest n-gram */

typedef struct RtBleu {
    int64_t matched[RT_BLEU_N];     /* clipped n-gram matches, n = index + 1, corpus sums */
    int64_t total[RT_BLEU_N];       /* hypothesis n-grams */
    int64_t hyp_len, ref_len;       /* tokens (c and r) */
    int64_t sentences;
    /* scratch: the tokens of the sentence pair being added, grown on demand, never shrunk */
    struct RtBleuTok *tok;
    size_t tok_cap;
} RtBleu;

typedef struct RtBleuScore {
    double bleu;                    /* 0..1 */
    double precision[RT_BLEU_N];    /* p_1 .. p_4 */
    double brevity_penalty;
    int64_t hyp_len, ref_len;
} RtBleuScore;

/* An empty corpus. */
void rt_bleu_init(RtBleu *b);
/* Adds one hypothesis and its reference (NUL-terminated, any bytes; whitespace separates
 * tokens). Returns 0, or -1 when the scratch could not grow (out of memory; b unchanged). */
int rt_bleu_add(RtBleu *b, const char *hyp, const char *ref);
/* Same with explicit lengths in bytes (the texts need no terminating NUL). */
int rt_bleu_add_n(RtBleu *b, const char *hyp, size_t hyp_n, const char *ref, size_t ref_n);
/* The score of everything added so far (allocates nothing). */
void rt_bleu_score(const RtBleu *b, RtBleuScore *out);
/* Frees the scratch; b is then empty, as after rt_bleu_init. */
void rt_bleu_free(RtBleu *b);

#endif
