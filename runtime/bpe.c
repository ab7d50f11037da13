/* bpe.c — opening tokenizer blobs, and GPT-2's byte-level BPE encode and decode.
 *
 * rt_tok_open trusts nothing in the blob: it checks the header, that every array lies inside
 * the blob, and every id and offset the encoder or decoder will follow, so that those need no
 * checks (a corrupted file fails here with a code, never later with a crash). It also checks
 * that each merge's result is the concatenation of its parts and each byte's token is that
 * byte, which makes decode(encode(text)) == text hold for any blob it accepts.
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
 *
 * All kinds of blob are opened here; when WordPiece and SentencePiece arrive, rt_tok_open,
 * decode and strerror belong in a runtime/tokenizer.c of their own. */
#include "runtime/tokenizer.h"
#include "runtime/unicode_impl.h"

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

static uint32_t piece_len(const RtTokenizer *t, uint32_t id)
{
    return t->piece_index[id + 1] - t->piece_index[id];
}

static const uint8_t *piece_at(const RtTokenizer *t, uint32_t id)
{
    return t->pieces + t->piece_index[id];
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
        uint32_t nl = piece_len(t, m->left), nr = piece_len(t, m->right);
        if (piece_len(t, m->merged) != nl + nr ||
            memcmp(piece_at(t, m->merged), piece_at(t, m->left), nl) != 0 ||
            memcmp(piece_at(t, m->merged) + nl, piece_at(t, m->right), nr) != 0)
            return RT_TOK_ECORRUPT;
        used++;
    }
    /* used < slots keeps an empty slot, which ends every probe sequence */
    return used == t->n_merges && used < slots ? RT_TOK_OK : RT_TOK_ECORRUPT;
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
    if (h->kind != RT_TOK_GPT2) return RT_TOK_EKIND;
    if (h->size > size) return RT_TOK_ETRUNC;
    if (h->size < sizeof(RtTokHeader)) return RT_TOK_ECORRUPT;
    for (int i = 0; i < 6; i++)
        if (h->reserved[i] != 0) return RT_TOK_ECORRUPT;
    if (h->n_tokens == 0 || h->n_tokens > RT_TOK_MAX_TOKENS || h->n_merges > RT_TOK_MAX_MERGES)
        return RT_TOK_EBOUNDS;

    uint32_t sz = h->size, n = h->n_tokens, slots = h->merge_slots;
    int err = RT_TOK_OK;
    if (!array_ok(h->off_piece_index, 4ull * (n + 1), sz, &err) ||
        !array_ok(h->off_pieces, h->piece_bytes, sz, &err) ||
        !array_ok(h->off_byte_ids, 4ull * 256, sz, &err))
        return err;
    if (h->off_scores && !array_ok(h->off_scores, 4ull * n, sz, &err)) return err;
    if (h->off_token_flags && !array_ok(h->off_token_flags, n, sz, &err)) return err;
    if (slots == 0) {
        if (h->n_merges != 0 || h->off_merges != 0) return RT_TOK_ECORRUPT;
    } else {
        if ((slots & (slots - 1)) != 0 || slots > 4 * RT_TOK_MAX_MERGES) return RT_TOK_ECORRUPT;
        if (!array_ok(h->off_merges, 16ull * slots, sz, &err)) return err;
    }

    t->kind = h->kind;
    t->n_tokens = n;
    t->n_merges = h->n_merges;
    t->merge_mask = slots ? slots - 1 : 0;
    t->piece_index = (const uint32_t *)(base + h->off_piece_index);
    t->pieces = base + h->off_pieces;
    t->byte_ids = (const uint32_t *)(base + h->off_byte_ids);
    t->merges = slots ? (const RtTokMerge *)(base + h->off_merges) : NULL;

    /* pieces: offsets from 0 to piece_bytes, never decreasing */
    if (t->piece_index[0] != 0 || t->piece_index[n] != h->piece_bytes) return RT_TOK_ECORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        if (t->piece_index[i + 1] < t->piece_index[i]) return RT_TOK_ECORRUPT;
        if (piece_len(t, i) > t->max_piece_len) t->max_piece_len = piece_len(t, i);
    }
    /* every byte has the token of exactly that byte */
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t id = t->byte_ids[b];
        if (id >= n || piece_len(t, id) != 1 || piece_at(t, id)[0] != b) return RT_TOK_ECORRUPT;
    }
    if (slots && (err = check_merges(t, slots)) != RT_TOK_OK) return err;

    uint32_t special[4] = { h->bos_id, h->eos_id, h->unk_id, h->pad_id };
    for (int i = 0; i < 4; i++)
        if (special[i] != RT_TOK_NO_ID && special[i] >= n) return RT_TOK_ECORRUPT;
    t->bos_id = h->bos_id;
    t->eos_id = h->eos_id;
    t->unk_id = h->unk_id;
    t->pad_id = h->pad_id;
    return RT_TOK_OK;
}

/* ---- decoding ------------------------------------------------------------------ */

const char *rt_tok_decode_piece(const RtTokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (uint32_t)id >= t->n_tokens) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = piece_len(t, (uint32_t)id);
    return (const char *)piece_at(t, (uint32_t)id);
}

long rt_tok_decode(const RtTokenizer *t, const int32_t *ids, size_t n,
                   char *out, size_t cap, size_t *err_at)
{
    size_t dummy, used = 0;
    if (!err_at) err_at = &dummy;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = rt_tok_decode_piece(t, ids[i], &len);
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
    }
    return "unknown tokenizer error";
}

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

long rt_tok_encode(const RtTokenizer *t, const char *text, size_t len,
                   int32_t *ids, size_t cap, size_t *err_at)
{
    size_t dummy;
    if (!err_at) err_at = &dummy;
    const uint8_t *s = (const uint8_t *)text;
    if (len == 0) return 0;
    if (!uni_utf8_valid(s, len, err_at)) return RT_TOK_EUTF8;
    if (t->kind != RT_TOK_GPT2) return RT_TOK_EKIND;
    /* int32_t and uint32_t may alias (C11 6.5p7); ids < RT_TOK_MAX_TOKENS fit both */
    uint32_t *out = (uint32_t *)ids;
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
