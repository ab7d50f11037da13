/* spm_unigram.c — SentencePiece unigram (RT_TOK_SPM_UNIGRAM): the best segmentation by score.
 *
 * As unigram_model.cc Model::EncodeOptimized: over the normalized text (spm_norm.c), best[e]
 * is the best-scoring segmentation of the first e bytes, with the start and piece of its last
 * piece. From each character boundary s, in order, every piece of the piece hash that
 * starts there (lengths 1 .. the longest piece) offers best[s] + its score to best[s + len];
 * a strictly better offer wins, so among equals the earliest start (then the shortest piece)
 * stays. UNUSED pieces offer nothing; a user-defined piece offers len * max_score - 0.1,
 * where max_score is the highest score of a NORMAL piece, or 0 when that is negative (the
 * library starts its maximum from FLT_MIN, the smallest positive float, and then maps FLT_MIN
 * to 0). When no piece is exactly the character at s, the character offers best[s] +
 * (min_score - 10) as unk_id, min_score the lowest score of a NORMAL piece (0 if none).
 * Arithmetic follows the library's types: an offer of a piece is computed in double and
 * compared with the float stored; an unknown offer is float throughout. The best path is then
 * read backwards from the end.
 *
 * Output as sentencepiece_processor.cc does it: unknown pieces become their byte tokens
 * when the tokenizer has them (byte_fallback), else consecutive unknown pieces become one
 * unk_id (RT_TOK_F_MERGE_UNKNOWN). Scratch is malloc'd per call and freed. */
#include "runtime/tokenizer_impl.h"
#include "runtime/unicode_impl.h"

#include <float.h>
#include <stdlib.h>

typedef struct Best {
    float score;
    int32_t start;          /* -1: not reached yet */
    uint32_t id;
} Best;

static void score_range(const RtTokenizer *t, float *lo, float *hi)
{
    float mn = FLT_MAX, mx = FLT_MIN;
    for (uint32_t i = 0; i < t->n_tokens; i++) {
        if (t->token_flags[i] != 0) continue;               /* NORMAL pieces only */
        if (t->scores[i] < mn) mn = t->scores[i];
        if (t->scores[i] > mx) mx = t->scores[i];
    }
    *lo = mn == FLT_MAX ? 0.0f : mn;
    *hi = mx == FLT_MIN ? 0.0f : mx;
}

long tok_spm_unigram_encode(const RtTokenizer *t, const uint8_t *text, size_t len, uint32_t *ids,
                            size_t cap, size_t *err_at)
{
    *err_at = 0;
    size_t n;
    uint8_t *s = tok_spm_normalize(t, text, len, &n);
    if (!s) return RT_TOK_ENOMEM;
    if (n > INT32_MAX / 2) {
        free(s);
        return RT_TOK_ENOMEM;
    }
    Best *best = malloc((n + 1) * sizeof *best);
    uint32_t *path = malloc((n + 1) * sizeof *path);     /* ends of the best path, backwards */
    if (!best || !path) {
        free(best);
        free(path);
        free(s);
        return RT_TOK_ENOMEM;
    }
    float min_score, max_score;
    score_range(t, &min_score, &max_score);
    const float unk_score = min_score - 10.0f;             /* kUnkPenalty */
    for (size_t i = 0; i <= n; i++) best[i] = (Best){ 0.0f, -1, RT_TOK_NO_ID };

    for (size_t at = 0; at < n;) {
        uint32_t cp;
        int cl = uni_utf8_decode(s + at, n - at, &cp);
        size_t mblen = cl > 0 ? (size_t)cl : 1;
        const float here = best[at].score;
        int single = 0;
        size_t most = n - at < t->max_piece_len ? n - at : t->max_piece_len;
        for (size_t l = 1; l <= most; l++) {
            uint32_t id = tok_find_piece(t, s + at, l);
            if (id == RT_TOK_NO_ID) continue;
            unsigned f = tok_flags(t, id);
            if (f & RT_TOK_FLAG_UNUSED) continue;
            double score = (f & RT_TOK_FLAG_USER) ? (double)((float)l * max_score) - 0.1
                                                  : (double)t->scores[id];
            double cand = score + (double)here;
            Best *b = &best[at + l];
            if (b->start < 0 || cand > (double)b->score) *b = (Best){ (float)cand, (int32_t)at, id };
            if (l == mblen) single = 1;
        }
        if (!single) {
            float cand = unk_score + here;
            Best *b = &best[at + mblen];
            if (b->start < 0 || cand > b->score) *b = (Best){ cand, (int32_t)at, RT_TOK_NO_ID };
        }
        at += mblen;
    }

    size_t k = 0;
    for (size_t e = n; e > 0; e = (size_t)best[e].start) path[k++] = (uint32_t)e;
    size_t count = 0;
    int last_unknown = 0;
    long rc = 0;
    while (k > 0 && rc == 0) {
        uint32_t e = path[--k], b0 = (uint32_t)best[e].start, id = best[e].id;
        if (id != RT_TOK_NO_ID) {
            if (count >= cap) rc = RT_TOK_ENOSPACE;
            else ids[count++] = id;
            last_unknown = 0;
        } else if (t->byte_ids) {
            for (uint32_t i = b0; i < e && rc == 0; i++) {
                if (count >= cap) rc = RT_TOK_ENOSPACE;
                else ids[count++] = t->byte_ids[s[i]];
            }
            last_unknown = 0;
        } else if (!((t->flags & RT_TOK_F_MERGE_UNKNOWN) && last_unknown)) {
            if (count >= cap) rc = RT_TOK_ENOSPACE;
            else ids[count++] = t->unk_id;
            last_unknown = 1;
        }
    }
    free(best);
    free(path);
    free(s);
    return rc ? rc : (long)count;
}
