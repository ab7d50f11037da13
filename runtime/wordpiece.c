/* wordpiece.c — BERT's WordPiece tokenizer: the basic tokenizer, then greedy longest match.
 *
 * One pass over the text, character by character, with no allocation: the word being built
 * lives in a fixed buffer (a word longer than WP_MAX_WORD_CHARS characters becomes [UNK]
 * whatever its contents, so only its length is counted past that). The passes of BERT's
 * BasicTokenizer happen as the characters arrive:
 *   special tokens   the text of an RT_TOK_FLAG_SPECIAL entry ("[MASK]", "[CLS]"...) is
 *                    matched whole in the raw text and gives its id (Hugging Face's added
 *                    tokens), ending the word before it;
 *   clean            U+0000, U+FFFD and category C* other than \t \n \r are dropped (the
 *                    characters around them join); white space (\t \n \r, Zs) ends a word;
 *   CJK ideographs   a word of their own (uni_is_cjk: BERT's block list);
 *   uncased          under RT_TOK_F_LOWERCASE each character is lower-cased, decomposed (NFD)
 *                    and stripped of nonspacing marks (uni_fold_cp);
 *   punctuation      each punctuation character (ASCII 33-47, 58-64, 91-96, 123-126, or P*)
 *                    after folding is a word of its own.
 * Each finished word is cut into pieces greedily, longest first from the left: the first
 * piece is looked up as " word" (the piece bytes of a word-initial entry), the next ones as
 * the bare bytes (continuation entries, "##" dropped); a position with no match turns the
 * whole word into one unk_id. Lookups try lengths from the longest piece of the vocabulary
 * down, at character boundaries: O(word * longest piece) per word. */
#include "runtime/tokenizer_impl.h"
#include "runtime/unicode_impl.h"

#include <string.h>

enum { WP_MAX_WORD_CHARS = 100 };   /* BERT's max_input_chars_per_word */

typedef struct Word {
    uint8_t bytes[WP_MAX_WORD_CHARS * 4];   /* UTF-8 of the folded characters */
    size_t n;               /* bytes used (the first WP_MAX_WORD_CHARS characters only) */
    size_t chars;           /* characters seen, possibly more than WP_MAX_WORD_CHARS */
    size_t at;              /* byte offset in the text where the word started */
} Word;

typedef struct Out {
    uint32_t *ids;
    size_t n, cap;
} Out;

/* The id of the entry with piece bytes (initial ? " " : "") + s[0..n), or RT_TOK_NO_ID. */
static uint32_t find_piece(const RtTokenizer *t, int initial, const uint8_t *s, size_t n)
{
    uint32_t h = 2166136261u;           /* rt_tok_bytes_hash, with the space in front */
    if (initial) h = (h ^ ' ') * 16777619u;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    size_t want = n + (initial ? 1 : 0);
    for (uint32_t i = h & t->hash_mask;; i = (i + 1) & t->hash_mask) {
        uint32_t id = t->piece_hash[i];     /* ends: an empty slot exists (tok_wordpiece_check) */
        if (id == RT_TOK_NO_ID) return RT_TOK_NO_ID;
        const uint8_t *p = tok_piece(t, id);
        if (tok_piece_len(t, id) == want && (!initial || p[0] == ' ') &&
            memcmp(p + (initial ? 1 : 0), s, n) == 0)
            return id;
    }
}

static int put(Out *o, uint32_t id)
{
    if (o->n == o->cap) return 0;
    o->ids[o->n++] = id;
    return 1;
}

/* Cuts the word into pieces (or one unk_id) and empties it. Returns 0 when out is full. */
static int flush_word(const RtTokenizer *t, Word *w, Out *o)
{
    if (w->chars == 0) return 1;
    size_t n = w->n, chars = w->chars;
    w->n = w->chars = 0;
    if (chars > WP_MAX_WORD_CHARS) return put(o, t->unk_id);
    /* pieces past the room are counted, not stored: the word may still turn into unk_id */
    size_t first = o->n, start = 0, pieces = 0;
    while (start < n) {
        size_t end = n;
        if (end - start > t->max_piece_len) end = start + t->max_piece_len;
        uint32_t id = RT_TOK_NO_ID;
        while (end > start) {
            while (end < n && (w->bytes[end] & 0xC0) == 0x80) end--;   /* a character boundary */
            if (end == start) break;
            id = find_piece(t, start == 0, w->bytes + start, end - start);
            if (id != RT_TOK_NO_ID) break;
            end--;
        }
        if (id == RT_TOK_NO_ID) {
            o->n = first;
            return put(o, t->unk_id);
        }
        if (first + pieces < o->cap) o->ids[first + pieces] = id;
        pieces++;
        start = end;
    }
    if (pieces > o->cap - first) return 0;
    o->n = first + pieces;
    return 1;
}

static void push_char(Word *w, uint32_t cp, size_t at)
{
    if (w->chars == 0) w->at = at;
    if (w->chars++ < WP_MAX_WORD_CHARS) w->n += (size_t)uni_utf8_encode(cp, w->bytes + w->n);
}

static int is_punct(uint32_t cp)
{
    if (cp < 128)
        return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
               (cp >= 123 && cp <= 126);
    return uni_is_punct(cp);
}

/* The special entry whose text (its piece less the leading space) starts s[0..n), or
 * RT_TOK_NO_ID; its length in *len. */
static uint32_t match_special(const RtTokenizer *t, const uint8_t *s, size_t n, size_t *len)
{
    const uint32_t cand[5] = { t->unk_id, t->bos_id, t->eos_id, t->pad_id, t->mask_id };
    for (int i = 0; i < 5; i++) {
        uint32_t id = cand[i];
        if (id == RT_TOK_NO_ID || !(tok_flags(t, id) & RT_TOK_FLAG_SPECIAL)) continue;
        size_t k = tok_piece_len(t, id) - 1;    /* tok_wordpiece_check: " text", k >= 1 */
        if (k <= n && memcmp(tok_piece(t, id) + 1, s, k) == 0) {
            *len = k;
            return id;
        }
    }
    return RT_TOK_NO_ID;
}

long tok_wordpiece_encode(const RtTokenizer *t, const uint8_t *s, size_t len, uint32_t *ids,
                          size_t cap, size_t *err_at)
{
    Word w = { .n = 0 };
    Out o = { ids, 0, cap };
    int lower = (t->flags & RT_TOK_F_LOWERCASE) != 0;
    size_t i = 0;
    *err_at = 0;
    while (i < len) {
        size_t at = i, k;
        if (s[i] == '[') {
            uint32_t id = match_special(t, s + i, len - i, &k);
            if (id != RT_TOK_NO_ID) {
                if (!flush_word(t, &w, &o)) goto full;
                if (!put(&o, id)) {
                    *err_at = at;
                    return RT_TOK_ENOSPACE;
                }
                i += k;
                continue;
            }
        }
        uint32_t cp;
        i += (size_t)uni_utf8_decode(s + i, len - i, &cp);   /* valid: tokenizer.c checked */
        if (cp == 0 || cp == 0xFFFD) continue;
        if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || uni_is_zs(cp)) {
            if (!flush_word(t, &w, &o)) goto full;
            continue;
        }
        if (uni_is_other(cp)) continue;                     /* control, format, unassigned */
        int cjk = uni_is_cjk(cp);
        if (cjk && !flush_word(t, &w, &o)) goto full;
        uint32_t f[3] = { cp, 0, 0 };
        int nf = lower ? uni_fold_cp(cp, f) : 1;
        for (int j = 0; j < nf; j++) {
            if (is_punct(f[j])) {
                if (!flush_word(t, &w, &o)) goto full;
                push_char(&w, f[j], at);
                if (!flush_word(t, &w, &o)) goto full;
            } else {
                push_char(&w, f[j], at);
            }
        }
        if (cjk && !flush_word(t, &w, &o)) goto full;
    }
    if (!flush_word(t, &w, &o)) goto full;
    return (long)o.n;
full:
    *err_at = w.at;
    return RT_TOK_ENOSPACE;
}

int tok_wordpiece_check(RtTokenizer *t, const RtTokHeader *h)
{
    const uint32_t allowed = RT_TOK_F_LOWERCASE | RT_TOK_F_ADD_BOS | RT_TOK_F_ADD_EOS |
                             RT_TOK_F_STRIP_FIRST_SPACE;
    if (!t->token_flags || !t->piece_hash || t->merges || t->byte_ids ||
        t->charsmap || (h->flags & ~allowed) || t->unk_id == RT_TOK_NO_ID)
        return RT_TOK_ECORRUPT;
    for (uint32_t i = 0; i < t->n_tokens; i++) {
        unsigned f = t->token_flags[i];
        if (f & ~(unsigned)RT_TOK_FLAG_SPECIAL) return RT_TOK_ECORRUPT;
        if (!f) continue;
        /* a special entry is matched by its text: " text", text not empty */
        uint32_t n = tok_piece_len(t, i);
        const uint8_t *p = tok_piece(t, i);
        if (n < 2 || p[0] != ' ') return RT_TOK_ECORRUPT;
        if (n == 7 && memcmp(p, " [MASK]", 7) == 0 && t->mask_id == RT_TOK_NO_ID) t->mask_id = i;
    }
    if (!tok_piece_hash_ok(t)) return RT_TOK_ECORRUPT;
    t->cls_id = t->bos_id;
    t->sep_id = t->eos_id;
    return RT_TOK_OK;
}
