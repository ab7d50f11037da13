/* spm_norm.c — SentencePiece's normalizer, as src/normalizer.cc Normalizer::Normalize does it.
 *
 * The text is read one prefix at a time: a user-defined piece (RT_TOK_FLAG_USER) passes
 * through unchanged; otherwise the longest key of the precompiled charsmap that starts here
 * is replaced by its string; otherwise one UTF-8 character passes through. Around that:
 *   RT_TOK_F_REMOVE_EXTRA_WS  leading prefixes that normalize to " " are dropped, a prefix
 *                             right after a space loses its leading spaces, and trailing
 *                             spaces are dropped at the end;
 *   RT_TOK_F_DUMMY_PREFIX     a space goes first, unless nothing is left of the text;
 *   RT_TOK_F_ESCAPE_WS        U+2581 in the output is a space: the blob stores pieces with
 *                             spaces where SentencePiece writes U+2581, so we keep spaces
 *                             as they are and turn U+2581 into a space instead. (It still
 *                             counts as the character it was for the "after a space" rule,
 *                             and as a space for the trailing rule, as in normalizer.cc.)
 * The text is valid UTF-8 (checked by rt_tok_encode), so normalizer.cc's U+FFFD for a bad
 * byte never happens here.
 *
 * The charsmap (sentencepiece ModelProto normalizer_spec.precompiled_charsmap) is: a u32
 * trie size, a darts-clone double array of that many bytes (u32 units), then the
 * replacement strings, each NUL-terminated; a trie value is a byte offset into the strings.
 * A double array cannot be checked as a whole cheaply, so the walk checks every index and
 * value against the bounds (tok_charsmap_check checked the rest); like normalizer.cc, only
 * the first 32 matches of a common prefix search are considered. */
#include "runtime/tokenizer_impl.h"
#include "runtime/unicode_impl.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TRIE_RESULTS 32        /* normalizer.cc's kMaxTrieResultsSize */

int tok_charsmap_check(RtTokenizer *t)
{
    const uint8_t *m = t->charsmap;
    uint32_t size = t->charsmap_size, trie;
    if (size < 4) return RT_TOK_ECORRUPT;
    memcpy(&trie, m, 4);
    if (trie % 4 != 0 || trie < 4 || trie > size - 4) return RT_TOK_ECORRUPT;
    uint32_t nstr = size - 4 - trie;
    const uint8_t *str = m + 4 + trie;
    if (nstr == 0 || str[nstr - 1] != 0) return RT_TOK_ECORRUPT;   /* every string ends */
    uint32_t longest = 1, run = 0;
    for (uint32_t i = 0; i < nstr; i++) {
        if (str[i] == 0) run = 0;
        else if (++run > longest) longest = run;
    }
    t->charsmap_trie_size = trie;
    t->max_expand = longest;
    return RT_TOK_OK;
}

static uint32_t unit_at(const RtTokenizer *t, uint32_t i)
{
    uint32_t u;
    memcpy(&u, t->charsmap + 4 + 4 * (size_t)i, 4);
    return u;
}

/* darts-clone's unit fields */
static uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static uint32_t unit_label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
static int unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t unit_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* The longest charsmap key that prefixes s[0..n): its length (0 if none) and in *repl its
 * replacement (NUL-terminated). darts-clone's commonPrefixSearch, bounds-checked. */
static size_t charsmap_match(const RtTokenizer *t, const uint8_t *s, size_t n, const char **repl)
{
    uint32_t units = t->charsmap_trie_size / 4;
    uint32_t nstr = t->charsmap_size - 4 - t->charsmap_trie_size;
    const char *str = (const char *)t->charsmap + 4 + t->charsmap_trie_size;
    size_t best = 0;
    int results = 0;
    uint32_t id = unit_offset(unit_at(t, 0));
    for (size_t i = 0; i < n; i++) {
        id ^= s[i];
        if (id >= units) break;
        uint32_t u = unit_at(t, id);
        if (unit_label(u) != s[i]) break;
        id ^= unit_offset(u);
        if (id >= units) break;
        if (unit_has_leaf(u)) {
            if (results++ >= MAX_TRIE_RESULTS) continue;
            uint32_t v = unit_value(unit_at(t, id));
            if (v >= nstr) break;           /* a corrupted map: stop matching */
            best = i + 1;
            *repl = str + v;
        }
    }
    return best;
}

/* The next prefix of s[0..n) (n >= 1): its length in the text, and its normalized bytes. */
static size_t next_prefix(const RtTokenizer *t, const uint8_t *s, size_t n, const uint8_t **out,
                          size_t *out_len)
{
    if (t->max_user_len) {
        size_t most = n < t->max_user_len ? n : t->max_user_len;
        for (size_t l = most; l > 0; l--) {
            uint32_t u = tok_find_piece(t, s, l);
            if (u != RT_TOK_NO_ID && (tok_flags(t, u) & RT_TOK_FLAG_USER)) {
                *out = s;
                *out_len = l;
                return l;
            }
        }
    }
    if (t->charsmap) {
        const char *repl = NULL;
        size_t l = charsmap_match(t, s, n, &repl);
        if (l > 0) {
            *out = (const uint8_t *)repl;
            *out_len = strlen(repl);
            return l;
        }
    }
    uint32_t cp;
    int l = uni_utf8_decode(s, n, &cp);
    *out = s;
    *out_len = l > 0 ? (size_t)l : 1;
    return *out_len;
}

/* Appends b[0..n) to o, U+2581 as a space when escaping. */
static size_t append(const RtTokenizer *t, uint8_t *o, size_t at, const uint8_t *b, size_t n)
{
    int esc = (t->flags & RT_TOK_F_ESCAPE_WS) != 0;
    for (size_t i = 0; i < n; i++) {
        if (esc && i + 2 < n && b[i] == 0xE2 && b[i + 1] == 0x96 && b[i + 2] == 0x81) {
            o[at++] = ' ';
            i += 2;
        } else {
            o[at++] = b[i];
        }
    }
    return at;
}

uint8_t *tok_spm_normalize(const RtTokenizer *t, const uint8_t *s, size_t len, size_t *out_len)
{
    int extra_ws = (t->flags & RT_TOK_F_REMOVE_EXTRA_WS) != 0;
    size_t k = t->max_expand ? t->max_expand : 1;
    if (len > (SIZE_MAX - 2) / k) return NULL;
    uint8_t *o = malloc(len * k + 2);
    if (!o) return NULL;
    size_t n = 0, p = 0;
    if (extra_ws) {             /* leading prefixes that normalize to one space */
        while (p < len) {
            const uint8_t *b;
            size_t bl, l = next_prefix(t, s + p, len - p, &b, &bl);
            if (bl != 1 || b[0] != ' ') break;
            p += l;
        }
    }
    if (p == len) {
        *out_len = 0;
        return o;
    }
    if (t->flags & RT_TOK_F_DUMMY_PREFIX) o[n++] = ' ';
    int prev_space = extra_ws;
    while (p < len) {
        const uint8_t *b;
        size_t bl, l = next_prefix(t, s + p, len - p, &b, &bl);
        if (prev_space)
            while (bl > 0 && b[0] == ' ') b++, bl--;
        if (bl > 0) {
            n = append(t, o, n, b, bl);
            prev_space = b[bl - 1] == ' ';
        }
        p += l;
        if (!extra_ws) prev_space = 0;
    }
    if (extra_ws)
        while (n > 0 && o[n - 1] == ' ') n--;
    *out_len = n;
    return o;
}
