/* bpe.c — GPT-2's byte-level BPE encoder (RT_TOK_GPT2).
 *
 * tokenizer.c has opened the blob (checking that each merge's result is the concatenation of
 * its parts and each byte's token is that byte, which makes decode(encode(text)) == text hold
 * for any blob it accepts) and validated the text as UTF-8.
 *
 * Encoding is GPT-2's: the text, validated as UTF-8 first, is split into pieces by the regex
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * written out by hand over code points (gpt2_piece_len; the alternatives are tried in order
 * at each position, as a backtracking regex engine does), then each piece's bytes become
 * their single-byte tokens and are merged pairwise as openai/gpt-2's encoder.py does: find
 * the adjacent pair of lowest rank, merge every non-overlapping occurrence of that same pair
 * left to right, repeat until no adjacent pair has a merge. That is O(n^2) in the piece's
 * length n at worst; pieces are words, so n is small, and a per-position cache of pair ranks
 * keeps each step to one scan of integers plus a lookup per merged symbol.
 *
 * Nothing is allocated: a piece of up to LOCAL bytes is merged in stack arrays, a longer
 * one in place in the caller's id buffer (with the rank cache behind it when there is room).
 */
#include "runtime/tokenizer_impl.h"
#include "runtime/unicode_impl.h"

#include <string.h>

/* ---- GPT-2 pre-tokenizer: the regex, by hand ------------------------------------- */

enum { CL_LETTER, CL_NUMBER, CL_SPACE, CL_OTHER };

static int cp_class(uint32_t c)
{
    if (c < 0x80) {
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return CL_LETTER;
        if (c >= '0' && c <= '9') return CL_NUMBER;
        if (c == ' ' || (c >= '\t' && c <= '\r')) return CL_SPACE;
        return CL_OTHER;
    }
    if (uni_is_letter(c)) return CL_LETTER;
    if (uni_is_number(c)) return CL_NUMBER;
    if (uni_is_space(c)) return CL_SPACE;
    return CL_OTHER;
}

/* The code point at s[p] (p < n, text known valid) and its length in bytes. */
static size_t next_cp(const uint8_t *s, size_t n, size_t p, uint32_t *c)
{
    if (s[p] < 0x80) {
        *c = s[p];
        return 1;
    }
    int len = uni_utf8_decode(s + p, n - p, c);
    return len > 0 ? (size_t)len : 1;    /* 0 cannot happen after validation */
}

/* End (byte offset) of the run of class cls starting at p. */
static size_t run_end(const uint8_t *s, size_t n, size_t p, int cls)
{
    while (p < n) {
        uint32_t c;
        size_t l = next_cp(s, n, p, &c);
        if (cp_class(c) != cls) break;
        p += l;
    }
    return p;
}

/* Length in bytes of the piece that starts at p < n. */
static size_t gpt2_piece_len(const uint8_t *s, size_t n, size_t p)
{
    uint32_t c;
    size_t l = next_cp(s, n, p, &c);

    /* 's|'t|'re|'ve|'m|'ll|'d — lower case only */
    if (c == '\'' && p + 1 < n) {
        uint8_t a = s[p + 1], b = p + 2 < n ? s[p + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
    /* ' ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+': one optional U+0020, then a run of one class */
    int cls = cp_class(c);
    size_t q = p;
    if (c == ' ' && p + 1 < n) {
        uint32_t c1;
        size_t l1 = next_cp(s, n, p + 1, &c1);
        if (cp_class(c1) != CL_SPACE) {
            q = p + 1;
            l = l1;
            cls = cp_class(c1);
        }
    }
    if (cls != CL_SPACE) return run_end(s, n, q + l, cls) - p;

    /* '\s+(?!\S)|\s+': a run of white space; when non-space follows it, the last white space
     * character is left for the next piece (backtracking until the lookahead holds), unless
     * the run is one character long, which then matches '\s+' alone. */
    size_t e = p, last = p, count = 0;
    while (e < n) {
        size_t le = next_cp(s, n, e, &c);
        if (cp_class(c) != CL_SPACE) break;
        last = e;
        e += le;
        count++;
    }
    if (e == n || count == 1) return e - p;
    return last - p;
}

/* ---- BPE merges ------------------------------------------------------------------ */

#define LOCAL 256          /* pieces up to this many bytes are merged on the stack */
#define NO_RANK 0xFFFFFFFFu

static const RtTokMerge *find_merge(const RtTokenizer *t, uint32_t left, uint32_t right)
{
    if (!t->merges) return NULL;
    uint32_t i = rt_tok_pair_hash(left, right) & t->merge_mask;
    for (;;) {              /* ends: rt_tok_open checked that an empty slot exists */
        const RtTokMerge *m = &t->merges[i];
        if (m->left == RT_TOK_NO_ID) return NULL;
        if (m->left == left && m->right == right) return m;
        i = (i + 1) & t->merge_mask;
    }
}

static uint32_t pair_rank(const RtTokenizer *t, uint32_t left, uint32_t right)
{
    const RtTokMerge *m = find_merge(t, left, right);
    return m ? m->rank : NO_RANK;
}

/* Merges the symbols sym[0..n) (token ids) in place; returns the new count. rank, when not
 * NULL, is scratch of n entries caching rank[i] = rank of the pair (sym[i], sym[i+1]). */
static size_t bpe_merge(const RtTokenizer *t, uint32_t *sym, size_t n, uint32_t *rank)
{
    if (rank) {
        for (size_t i = 0; i + 1 < n; i++) rank[i] = pair_rank(t, sym[i], sym[i + 1]);
        rank[n - 1] = NO_RANK;
    }
    while (n > 1) {
        uint32_t best = NO_RANK;
        size_t at = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            uint32_t r = rank ? rank[i] : pair_rank(t, sym[i], sym[i + 1]);
            if (r < best) {
                best = r;
                at = i;
            }
        }
        if (best == NO_RANK) break;
        const RtTokMerge *m = find_merge(t, sym[at], sym[at + 1]);
        uint32_t left = m->left, right = m->right, merged = m->merged;
        /* every non-overlapping occurrence of (left, right), left to right */
        size_t w = 0;
        for (size_t i = 0; i < n; w++) {
            if (i + 1 < n && sym[i] == left && sym[i + 1] == right) {
                sym[w] = merged;
                i += 2;
            } else {
                sym[w] = sym[i];
                if (rank) rank[w] = rank[i];    /* still right unless sym[w+1] is new */
                i++;
            }
        }
        n = w;
        if (rank) {
            for (size_t k = 0; k < n; k++) {
                if (sym[k] != merged) continue;
                if (k > 0) rank[k - 1] = pair_rank(t, sym[k - 1], sym[k]);
                rank[k] = k + 1 < n ? pair_rank(t, sym[k], sym[k + 1]) : NO_RANK;
            }
        }
    }
    return n;
}

/* Encodes one piece b[0..m) (m >= 1) into out[0..room). Returns the id count or
 * RT_TOK_ENOSPACE. */
static long bpe_piece(const RtTokenizer *t, const uint8_t *b, size_t m, uint32_t *out, size_t room)
{
    if (m == 1) {
        if (room < 1) return RT_TOK_ENOSPACE;
        out[0] = t->byte_ids[b[0]];
        return 1;
    }
    if (m <= LOCAL) {
        uint32_t sym[LOCAL], rank[LOCAL];
        for (size_t i = 0; i < m; i++) sym[i] = t->byte_ids[b[i]];
        size_t n = bpe_merge(t, sym, m, rank);
        if (n > room) return RT_TOK_ENOSPACE;
        memcpy(out, sym, n * sizeof *sym);
        return (long)n;
    }
    if (m > room) return RT_TOK_ENOSPACE;
    for (size_t i = 0; i < m; i++) out[i] = t->byte_ids[b[i]];
    return (long)bpe_merge(t, out, m, room / 2 >= m ? out + m : NULL);
}

long tok_gpt2_encode(const RtTokenizer *t, const uint8_t *s, size_t len, uint32_t *out,
                     size_t cap, size_t *err_at)
{
    size_t count = 0;
    for (size_t p = 0; p < len;) {
        size_t m = gpt2_piece_len(s, len, p);
        long got = bpe_piece(t, s + p, m, out + count, cap - count);
        if (got < 0) {
            *err_at = p;
            return got;
        }
        count += (size_t)got;
        p += m;
    }
    return (long)count;
}
