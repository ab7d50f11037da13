/* chars.c — the character tokenizer: one token per UTF-8 character of the text.
 *
 * The vocabulary of a character-level model (frontend/tokenizer_chars.c) is a list of
 * symbols, each one character, plus special tokens (<pad>, <s>, </s>, <unk>...). Encoding
 * walks the text a character at a time and looks each one up in the piece hash, which holds
 * every symbol and no special token, so a special token written in the text is its
 * characters, never the token. A character that is no symbol becomes unk_id when the
 * vocabulary has one, else the encoding fails with RT_TOK_EUNKNOWN at its byte offset.
 * One id per character, at most one per byte: rt_tok_prompt_cap's len + 3 is always enough.
 * Nothing is allocated. Decoding needs nothing here: a symbol's piece is its character (the
 * space of <space> included), a special token's piece is empty. */
#include "runtime/tokenizer_impl.h"
#include "runtime/unicode_impl.h"

long tok_chars_encode(const RtTokenizer *t, const uint8_t *s, size_t len, uint32_t *ids,
                      size_t cap, size_t *err_at)
{
    size_t n = 0;
    *err_at = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = (size_t)uni_utf8_decode(s + i, len - i, &cp);   /* valid: tokenizer.c checked */
        uint32_t id = tok_find_piece(t, s + i, k);
        if (id == RT_TOK_NO_ID) id = t->unk_id;
        if (id == RT_TOK_NO_ID) {
            *err_at = i;
            return RT_TOK_EUNKNOWN;
        }
        if (n == cap) {
            *err_at = i;
            return RT_TOK_ENOSPACE;
        }
        ids[n++] = id;
        i += k;
    }
    return (long)n;
}

int tok_chars_check(const RtTokenizer *t, const RtTokHeader *h)
{
    if (!t->token_flags || !t->piece_hash || t->merges || t->byte_ids || t->charsmap ||
        (h->flags & ~(uint32_t)RT_TOK_F_ADD_EOS))
        return RT_TOK_ECORRUPT;
    for (uint32_t i = 0; i < t->n_tokens; i++) {
        unsigned f = t->token_flags[i];
        uint32_t n = tok_piece_len(t, i);
        if (f & ~(unsigned)(RT_TOK_FLAG_SPECIAL | RT_TOK_FLAG_UNKNOWN)) return RT_TOK_ECORRUPT;
        if (f) {
            /* a special token: decodes to nothing */
            if (!(f & RT_TOK_FLAG_SPECIAL) || n != 0) return RT_TOK_ECORRUPT;
            continue;
        }
        /* a symbol: exactly one valid character */
        uint32_t cp;
        if (n == 0 || uni_utf8_decode(tok_piece(t, i), n, &cp) != (int)n) return RT_TOK_ECORRUPT;
    }
    /* the ids of a role are special tokens; the unknown one says so */
    const uint32_t roles[4] = { t->bos_id, t->eos_id, t->pad_id, t->unk_id };
    for (int r = 0; r < 4; r++)
        if (roles[r] != RT_TOK_NO_ID && !(t->token_flags[roles[r]] & RT_TOK_FLAG_SPECIAL))
            return RT_TOK_ECORRUPT;
    if (t->unk_id != RT_TOK_NO_ID && !(t->token_flags[t->unk_id] & RT_TOK_FLAG_UNKNOWN))
        return RT_TOK_ECORRUPT;
    if (!tok_piece_hash_ok(t)) return RT_TOK_ECORRUPT;
    return RT_TOK_OK;
}
