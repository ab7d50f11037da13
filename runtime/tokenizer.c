/* tokenizer.c — opening tokenizer blobs of every kind, decoding, prompts, error messages.
 *
 * rt_tok_open trusts nothing in the blob: it checks the header, that every array lies inside
 * the blob, and every id and offset the encoders or the decoder will follow, so that those
 * need no checks (a corrupted file fails here with a code, never later with a crash). What
 * it checks depends on the kind (runtime/tokenizer.h lists the arrays each needs): for GPT-2
 * that each merge's result is the concatenation of its parts and each byte's token is that
 * byte, which makes decode(encode(text)) == text hold for any GPT-2 blob it accepts; for the
 * SentencePiece kinds that scores are finite, byte tokens are single bytes and the piece
 * hash holds ids only, with an empty slot to end every probe; WordPiece blobs are checked by
 * wordpiece.c (tok_wordpiece_check), character blobs by chars.c (tok_chars_check). The charsmap is checked by spm_norm.c. The one table that cannot be checked as a whole at open time, the charsmap's
 * double-array trie, is walked with a bounds check at every step instead.
 *
 * rt_tok_encode validates the text as UTF-8 and hands it to the kind's encoder
 * (tokenizer_impl.h). Decoding concatenates pieces, which hold the bytes each token decodes
 * to; the only context is the leading space that SentencePiece and llama2.c drop at the
 * start of a text or after BOS (rt_tok_decode_next). */
#include "runtime/tokenizer_impl.h"
#include "runtime/unicode_impl.h"

#include <math.h>
#include <string.h>

/* ---- opening a blob ---------------------------------------------------------- */

/* Whether the array at off of n bytes lies inside the blob's size bytes after the header.
 * Sets *err to the reason when not. */
static int array_ok(uint32_t off, uint64_t n, uint32_t size, int *err)
{
    if (off % 4 != 0) {
        *err = RT_TOK_EALIGN;
        return 0;
    }
    if (off < sizeof(RtTokHeader) || (uint64_t)off + n > size) {
        *err = RT_TOK_EBOUNDS;
        return 0;
    }
    return 1;
}

/* Checks the merge table: slot contents, the count, and for each merge that the result's
 * bytes are left's followed by right's. */
static int check_merges(const RtTokenizer *t, uint32_t slots)
{
    uint32_t used = 0;
    for (uint32_t i = 0; i < slots; i++) {
        const RtTokMerge *m = &t->merges[i];
        if (m->left == RT_TOK_NO_ID) {
            if (m->right != RT_TOK_NO_ID || m->rank != RT_TOK_NO_ID || m->merged != RT_TOK_NO_ID)
                return RT_TOK_ECORRUPT;
            continue;
        }
        if (m->left >= t->n_tokens || m->right >= t->n_tokens || m->merged >= t->n_tokens ||
            m->rank >= t->n_merges)
            return RT_TOK_ECORRUPT;
        uint32_t nl = tok_piece_len(t, m->left), nr = tok_piece_len(t, m->right);
        if (tok_piece_len(t, m->merged) != nl + nr ||
            memcmp(tok_piece(t, m->merged), tok_piece(t, m->left), nl) != 0 ||
            memcmp(tok_piece(t, m->merged) + nl, tok_piece(t, m->right), nr) != 0)
            return RT_TOK_ECORRUPT;
        used++;
    }
    /* used < slots keeps an empty slot, which ends every probe sequence */
    return used == t->n_merges && used < slots ? RT_TOK_OK : RT_TOK_ECORRUPT;
}

/* GPT-2: every byte has the token of exactly that byte; merges as above; no SentencePiece
 * arrays or flags. */
static int check_gpt2(const RtTokenizer *t, const RtTokHeader *h)
{
    if (!t->byte_ids || !t->merges || t->piece_hash || t->charsmap || h->flags != 0)
        return RT_TOK_ECORRUPT;
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t id = t->byte_ids[b];
        if (id >= t->n_tokens || tok_piece_len(t, id) != 1 || tok_piece(t, id)[0] != b)
            return RT_TOK_ECORRUPT;
    }
    return check_merges(t, h->merge_slots);
}

/* The SentencePiece kinds: scores, flags and the piece hash present, no merge table; scores
 * finite; byte tokens one byte long; byte_ids (when present) a byte token of that byte or
 * the unknown token. */
static int check_spm(RtTokenizer *t, const RtTokHeader *h)
{
    if (!t->scores || !t->token_flags || !t->piece_hash || t->merges) return RT_TOK_ECORRUPT;
    for (uint32_t i = 0; i < t->n_tokens; i++) {
        if (!isfinite(t->scores[i])) return RT_TOK_ECORRUPT;
        unsigned f = t->token_flags[i];
        if (f & ~31u) return RT_TOK_ECORRUPT;
        if ((f & RT_TOK_FLAG_BYTE) && tok_piece_len(t, i) != 1) return RT_TOK_ECORRUPT;
        if ((f & RT_TOK_FLAG_USER) && tok_piece_len(t, i) > t->max_user_len)
            t->max_user_len = tok_piece_len(t, i);
    }
    if (t->byte_ids) {
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t id = t->byte_ids[b];
            if (id >= t->n_tokens) return RT_TOK_ECORRUPT;
            int is_byte = tok_piece_len(t, id) == 1 && tok_piece(t, id)[0] == b;
            if (!is_byte && id != t->unk_id) return RT_TOK_ECORRUPT;
        }
    }
    if (!tok_piece_hash_ok(t)) return RT_TOK_ECORRUPT;
    /* a character that is no piece needs somewhere to go */
    if (t->unk_id == RT_TOK_NO_ID && (!t->byte_ids || (h->flags & RT_TOK_F_MERGE_UNKNOWN)))
        return RT_TOK_ECORRUPT;
    if (t->charsmap) return tok_charsmap_check(t);
    return RT_TOK_OK;
}

int rt_tok_open(const void *blob, size_t size, RtTokenizer *t)
{
    memset(t, 0, sizeof *t);
    if (!blob || size < sizeof(RtTokHeader)) return RT_TOK_ETRUNC;
    if ((uintptr_t)blob % 4 != 0) return RT_TOK_EALIGN;
    const RtTokHeader *h = blob;
    const uint8_t *base = blob;
    if (h->magic != RT_TOK_MAGIC)
        return h->magic == __builtin_bswap32(RT_TOK_MAGIC) ? RT_TOK_EENDIAN : RT_TOK_EMAGIC;
    if (h->version != RT_TOK_VERSION) return RT_TOK_EVERSION;
    if (h->kind != RT_TOK_GPT2 && h->kind != RT_TOK_SPM_BPE && h->kind != RT_TOK_SPM_UNIGRAM &&
        h->kind != RT_TOK_WORDPIECE && h->kind != RT_TOK_CHARS)
        return RT_TOK_EKIND;
    if (h->size > size) return RT_TOK_ETRUNC;
    if (h->size < sizeof(RtTokHeader)) return RT_TOK_ECORRUPT;
    if (h->reserved != 0 || (h->flags & ~(uint32_t)RT_TOK_F_ALL)) return RT_TOK_ECORRUPT;
    if (h->n_tokens == 0 || h->n_tokens > RT_TOK_MAX_TOKENS || h->n_merges > RT_TOK_MAX_MERGES)
        return RT_TOK_EBOUNDS;

    uint32_t sz = h->size, n = h->n_tokens, slots = h->merge_slots, hslots = h->hash_slots;
    int err = RT_TOK_OK;
    if (!array_ok(h->off_piece_index, 4ull * (n + 1), sz, &err) ||
        !array_ok(h->off_pieces, h->piece_bytes, sz, &err))
        return err;
    if (h->off_byte_ids && !array_ok(h->off_byte_ids, 4ull * 256, sz, &err)) return err;
    if (h->off_scores && !array_ok(h->off_scores, 4ull * n, sz, &err)) return err;
    if (h->off_token_flags && !array_ok(h->off_token_flags, n, sz, &err)) return err;
    if (slots == 0) {
        if (h->n_merges != 0 || h->off_merges != 0) return RT_TOK_ECORRUPT;
    } else {
        if ((slots & (slots - 1)) != 0 || slots > 4 * RT_TOK_MAX_MERGES) return RT_TOK_ECORRUPT;
        if (!array_ok(h->off_merges, 16ull * slots, sz, &err)) return err;
    }
    if (hslots == 0) {
        if (h->off_piece_hash != 0) return RT_TOK_ECORRUPT;
    } else {
        if ((hslots & (hslots - 1)) != 0 || hslots > 4 * RT_TOK_MAX_TOKENS) return RT_TOK_ECORRUPT;
        if (!array_ok(h->off_piece_hash, 4ull * hslots, sz, &err)) return err;
    }
    if (h->off_charsmap == 0) {
        if (h->charsmap_size != 0) return RT_TOK_ECORRUPT;
    } else {
        if (h->charsmap_size > RT_TOK_MAX_CHARSMAP) return RT_TOK_EBOUNDS;
        if (!array_ok(h->off_charsmap, h->charsmap_size, sz, &err)) return err;
    }

    t->kind = h->kind;
    t->flags = h->flags;
    t->n_tokens = n;
    t->n_merges = h->n_merges;
    t->merge_mask = slots ? slots - 1 : 0;
    t->hash_mask = hslots ? hslots - 1 : 0;
    t->max_expand = 1;
    t->piece_index = (const uint32_t *)(base + h->off_piece_index);
    t->pieces = base + h->off_pieces;
    t->byte_ids = h->off_byte_ids ? (const uint32_t *)(base + h->off_byte_ids) : NULL;
    t->merges = slots ? (const RtTokMerge *)(base + h->off_merges) : NULL;
    t->scores = h->off_scores ? (const float *)(base + h->off_scores) : NULL;
    t->token_flags = h->off_token_flags ? base + h->off_token_flags : NULL;
    t->piece_hash = hslots ? (const uint32_t *)(base + h->off_piece_hash) : NULL;
    t->charsmap = h->off_charsmap ? base + h->off_charsmap : NULL;
    t->charsmap_size = h->charsmap_size;

    /* pieces: offsets from 0 to piece_bytes, never decreasing */
    if (t->piece_index[0] != 0 || t->piece_index[n] != h->piece_bytes) return RT_TOK_ECORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        if (t->piece_index[i + 1] < t->piece_index[i]) return RT_TOK_ECORRUPT;
        if (tok_piece_len(t, i) > t->max_piece_len) t->max_piece_len = tok_piece_len(t, i);
    }
    uint32_t special[4] = { h->bos_id, h->eos_id, h->unk_id, h->pad_id };
    for (int i = 0; i < 4; i++)
        if (special[i] != RT_TOK_NO_ID && special[i] >= n) return RT_TOK_ECORRUPT;
    t->bos_id = h->bos_id;
    t->eos_id = h->eos_id;
    t->unk_id = h->unk_id;
    t->pad_id = h->pad_id;
    t->cls_id = t->sep_id = t->mask_id = RT_TOK_NO_ID;

    err = t->kind == RT_TOK_GPT2 ? check_gpt2(t, h) :
          t->kind == RT_TOK_WORDPIECE ? tok_wordpiece_check(t, h) :
          t->kind == RT_TOK_CHARS ? tok_chars_check(t, h) : check_spm(t, h);
    if (err != RT_TOK_OK) memset(t, 0, sizeof *t);
    return err;
}

int tok_piece_hash_ok(const RtTokenizer *t)
{
    uint32_t empty = 0;
    for (uint32_t i = 0; i <= t->hash_mask; i++) {
        uint32_t id = t->piece_hash[i];
        if (id == RT_TOK_NO_ID) empty++;
        else if (id >= t->n_tokens) return 0;
    }
    return empty > 0;       /* an empty slot ends every probe */
}

uint32_t tok_find_piece(const RtTokenizer *t, const uint8_t *s, size_t n)
{
    if (!t->piece_hash) return RT_TOK_NO_ID;
    for (uint32_t i = rt_tok_bytes_hash(s, n) & t->hash_mask;; i = (i + 1) & t->hash_mask) {
        uint32_t id = t->piece_hash[i];     /* ends: rt_tok_open checked an empty slot exists */
        if (id == RT_TOK_NO_ID) return RT_TOK_NO_ID;
        if (tok_piece_len(t, id) == n && memcmp(tok_piece(t, id), s, n) == 0) return id;
    }
}

/* ---- encoding ---------------------------------------------------------------------- */

long rt_tok_encode(const RtTokenizer *t, const char *text, size_t len,
                   int32_t *ids, size_t cap, size_t *err_at)
{
    size_t dummy;
    if (!err_at) err_at = &dummy;
    const uint8_t *s = (const uint8_t *)text;
    if (len == 0) return 0;
    if (!uni_utf8_valid(s, len, err_at)) return RT_TOK_EUTF8;
    /* int32_t and uint32_t may alias (C11 6.5p7); ids < RT_TOK_MAX_TOKENS fit both */
    uint32_t *out = (uint32_t *)ids;
    switch (t->kind) {
    case RT_TOK_GPT2: return tok_gpt2_encode(t, s, len, out, cap, err_at);
    case RT_TOK_SPM_BPE: return tok_spm_bpe_encode(t, s, len, out, cap, err_at);
    case RT_TOK_SPM_UNIGRAM: return tok_spm_unigram_encode(t, s, len, out, cap, err_at);
    case RT_TOK_WORDPIECE: return tok_wordpiece_encode(t, s, len, out, cap, err_at);
    case RT_TOK_CHARS: return tok_chars_encode(t, s, len, out, cap, err_at);
    }
    return RT_TOK_EKIND;
}

size_t rt_tok_prompt_cap(const RtTokenizer *t, size_t len)
{
    size_t k = t->max_expand ? t->max_expand : 1;
    if (len > (SIZE_MAX - 3) / k) return SIZE_MAX;
    return len * k + 3;         /* a dummy prefix, a BOS and an EOS */
}

long rt_tok_prompt(const RtTokenizer *t, const char *text, size_t len,
                   int32_t *ids, size_t cap, size_t *err_at)
{
    size_t dummy;
    if (!err_at) err_at = &dummy;
    *err_at = 0;
    size_t n = 0;
    int bos = (t->flags & RT_TOK_F_ADD_BOS) && t->bos_id != RT_TOK_NO_ID;
    int eos = (t->flags & RT_TOK_F_ADD_EOS) && t->eos_id != RT_TOK_NO_ID;
    /* an empty text needs a start token, unless the eos it ends with is enough (a source
     * "" is [eos] in a seq2seq model) */
    if (bos || (len == 0 && !eos)) {
        uint32_t start = t->bos_id != RT_TOK_NO_ID ? t->bos_id : t->eos_id;
        if (start == RT_TOK_NO_ID) return RT_TOK_ENOSTART;
        if (cap < 1) return RT_TOK_ENOSPACE;
        ids[n++] = (int32_t)start;
    }
    if (len > 0) {
        long got = rt_tok_encode(t, text, len, ids + n, cap - n, err_at);
        if (got < 0) return got;
        n += (size_t)got;
    }
    if (eos) {
        if (cap - n < 1) {
            *err_at = len;
            return RT_TOK_ENOSPACE;
        }
        ids[n++] = (int32_t)t->eos_id;
    }
    return (long)n;
}

/* ---- decoding ------------------------------------------------------------------ */

const char *rt_tok_decode_piece(const RtTokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (uint32_t)id >= t->n_tokens) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = tok_piece_len(t, (uint32_t)id);
    return (const char *)tok_piece(t, (uint32_t)id);
}

const char *rt_tok_decode_next(const RtTokenizer *t, int32_t prev, int32_t id, size_t *len)
{
    size_t n;
    const char *p = rt_tok_decode_piece(t, id, &n);
    if (!p) {
        if (len) *len = 0;
        return NULL;
    }
    int strip = ((t->flags & RT_TOK_F_STRIP_BOS_SPACE) && prev >= 0 && (uint32_t)prev == t->bos_id) ||
                ((t->flags & RT_TOK_F_STRIP_FIRST_SPACE) && prev < 0);
    if (strip && n > 0 && p[0] == ' ' &&
        !(tok_flags(t, (uint32_t)id) & (RT_TOK_FLAG_BYTE | RT_TOK_FLAG_UNKNOWN))) {
        p++;
        n--;
    }
    if (len) *len = n;
    return p;
}

long rt_tok_decode(const RtTokenizer *t, const int32_t *ids, size_t n,
                   char *out, size_t cap, size_t *err_at)
{
    size_t dummy, used = 0;
    if (!err_at) err_at = &dummy;
    int32_t prev = -1;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = rt_tok_decode_next(t, prev, ids[i], &len);
        if (!p) {
            *err_at = i;
            return RT_TOK_EID;
        }
        if (len > cap - used) {
            *err_at = i;
            return RT_TOK_ENOSPACE;
        }
        memcpy(out + used, p, len);
        used += len;
        /* SentencePiece: the start lasts until a piece gives bytes */
        if (!((t->flags & RT_TOK_F_STRIP_FIRST_SPACE) && used == 0)) prev = ids[i];
    }
    return (long)used;
}

const char *rt_tok_strerror(int code)
{
    switch (code) {
    case RT_TOK_OK: return "success";
    case RT_TOK_ETRUNC: return "tokenizer table is truncated";
    case RT_TOK_EMAGIC: return "not a kiln tokenizer table (bad magic number)";
    case RT_TOK_EENDIAN: return "tokenizer table was written for the other byte order";
    case RT_TOK_EVERSION: return "tokenizer table has a version this runtime does not know";
    case RT_TOK_EKIND: return "tokenizer kind not supported by this runtime";
    case RT_TOK_EALIGN: return "tokenizer table or one of its arrays is misaligned";
    case RT_TOK_EBOUNDS:
        return "tokenizer table has an array outside its bounds or a count too large";
    case RT_TOK_ECORRUPT: return "tokenizer table is corrupted (inconsistent contents)";
    case RT_TOK_EUTF8: return "text is not valid UTF-8";
    case RT_TOK_ENOSPACE: return "output buffer too small";
    case RT_TOK_EID: return "token id out of range";
    case RT_TOK_ENOMEM: return "out of memory while encoding";
    case RT_TOK_ENOSTART: return "the prompt is empty and the tokenizer has no start token";
    case RT_TOK_EUNKNOWN: return "a character of the text is not in the vocabulary";
    }
    return "unknown tokenizer error";
}
